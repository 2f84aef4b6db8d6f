"""Every adapter evaluates every legacy operator, sort and keyset page as the
contract (`legacy_adapters/base.py`) defines them. Expected rows are computed
here from the data set in plain Python; the in-memory source is one of the
adapters checked."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from legacy_adapters.base import (
    Condition,
    Order,
    Related,
    Select,
    Source,
    TableRef,
    UnsupportedQuery,
)

from . import dataset
from .dataset import DUPS, ITEMS, OWNERS, PARTS

ITEM_COLUMNS = tuple(c.name for c in dataset.metadata.tables["ITEMS"].columns)
Row = tuple[Any, ...]


def col(name: str) -> Callable[[Row], Any]:
    pos = ITEM_COLUMNS.index(name)
    return lambda row: row[pos]


def ids(rows: list[Row]) -> list[str]:
    return [r[0].rstrip() for r in rows]


def normalized(source: Source, table: TableRef, columns: tuple[str, ...], rows: list[Row]) -> list:
    """CHAR(n) values without pad spaces (some databases return them padded)."""
    info = source.reflect(tables=[table]).tables[0]
    fixed = [bool(info.column(c) and info.column(c).fixed_length) for c in columns]
    return [
        tuple(
            v.rstrip(" ") if f and isinstance(v, str) else v for v, f in zip(r, fixed, strict=True)
        )
        for r in rows
    ]


QTY, NAME, CODE, DUE, PRICE, SHIPPED, ID = (
    col(n) for n in ("QTY", "NAME", "CODE", "DUE", "PRICE", "SHIPPED", "ID")
)

CASES: list[tuple[str, Condition, Callable[[Row], bool]]] = [
    ("eq", Condition("QTY", "eq", 5), lambda r: QTY(r) == 5),
    ("ne skips NULL", Condition("QTY", "ne", 5), lambda r: QTY(r) is not None and QTY(r) != 5),
    ("lt", Condition("QTY", "lt", 10), lambda r: QTY(r) is not None and QTY(r) < 10),
    ("lte", Condition("QTY", "lte", 10), lambda r: QTY(r) is not None and QTY(r) <= 10),
    ("gt", Condition("QTY", "gt", 10), lambda r: QTY(r) is not None and QTY(r) > 10),
    ("gte", Condition("QTY", "gte", 10), lambda r: QTY(r) is not None and QTY(r) >= 10),
    ("in", Condition("QTY", "in", (1, 2, 3)), lambda r: QTY(r) in (1, 2, 3)),
    (
        "not_in skips NULL",
        Condition("QTY", "not_in", (1, 2, 3)),
        lambda r: QTY(r) is not None and QTY(r) not in (1, 2, 3),
    ),
    ("eq on CHAR", Condition("CODE", "eq", "RN"), lambda r: CODE(r) == "RN"),
    ("in on CHAR", Condition("CODE", "in", ("RN", "HD")), lambda r: CODE(r) in ("RN", "HD")),
    ("eq on key", Condition("ID", "eq", "I00005"), lambda r: ID(r) == "I00005"),
    ("prefix", Condition("ID", "prefix", "I0001%"), lambda r: ID(r).startswith("I0001")),
    (
        "prefix escapes _",
        Condition("NAME", "prefix", "nut\\_5%"),
        lambda r: (NAME(r) or "").startswith("nut_5"),
    ),
    (
        "like folds case",
        Condition("NAME", "like", "bolt"),
        lambda r: (NAME(r) or "").lower() == "bolt",
    ),
    (
        "like folds non-ASCII case",
        Condition("NAME", "like", "%müller%"),
        lambda r: "müller" in (NAME(r) or "").lower(),
    ),
    (
        "like escapes % and _",
        Condition("NAME", "like", "nut\\_50\\%"),
        lambda r: NAME(r) == "nut_50%",
    ),
    (
        "like escapes backslash",
        Condition("NAME", "like", "gear a\\\\b"),
        lambda r: NAME(r) == "Gear A\\B",
    ),
    ("like_rtrim on CHAR", Condition("CODE", "like_rtrim", "rn"), lambda r: CODE(r) == "RN"),
    ("isnull", Condition("QTY", "isnull", (True, ())), lambda r: QTY(r) is None),
    ("not isnull", Condition("QTY", "isnull", (False, ())), lambda r: QTY(r) is not None),
    ("isnull with sentinel", Condition("DUE", "isnull", (True, (0,))), lambda r: DUE(r) == 0),
    ("not isnull with sentinel", Condition("DUE", "isnull", (False, (0,))), lambda r: DUE(r) != 0),
    ("isnull on a date", Condition("SHIPPED", "isnull", (True, ())), lambda r: SHIPPED(r) is None),
    (
        "eq on a date",
        Condition("SHIPPED", "eq", dt.date(2026, 3, 3)),
        lambda r: SHIPPED(r) == dt.date(2026, 3, 3),
    ),
    (
        "eq on a decimal",
        Condition("PRICE", "eq", Decimal("131.01")),
        lambda r: PRICE(r) == Decimal("131.01"),
    ),
    ("gte on a decimal", Condition("PRICE", "gte", Decimal("500")), lambda r: PRICE(r) >= 500),
]


def _declared_unsupported(source: Source, condition: Condition) -> bool:
    """A condition the source's capabilities say it cannot run faithfully."""
    caps = source.capabilities
    if condition.op not in ("prefix", "like", "like_rtrim"):
        return False
    if not caps.like_escape and "\\" in condition.value:
        return True
    return (
        condition.op != "prefix"
        and not caps.unicode_case_fold
        and any(not ch.isascii() and ch.lower() != ch.upper() for ch in condition.value)
    )


@pytest.mark.parametrize(("name", "condition", "expected"), CASES, ids=[c[0] for c in CASES])
def test_condition(source: Source, name: str, condition: Condition, expected: Callable) -> None:
    query = Select(ITEMS, ("ID",), (condition,), (Order("ID"),))
    if _declared_unsupported(source, condition):
        with pytest.raises(UnsupportedQuery):  # refused, never approximated
            source.select(query)
        return
    rows = source.select(query)
    want = [r[0] for r in dataset.items() if expected(r)]
    assert want, "a case that matches nothing proves nothing"
    assert ids(rows) == want


def test_conditions_are_anded(source: Source) -> None:
    where = (Condition("CODE", "eq", "RN"), Condition("DUE", "gte", 20260200))
    rows = source.select(Select(ITEMS, ("ID",), where, (Order("ID"),)))
    assert ids(rows) == [r[0] for r in dataset.items() if CODE(r) == "RN" and DUE(r) >= 20260200]


def test_column_tuple_in(source: Source) -> None:
    wanted = (("I00007", 1), ("I00007", 2), ("I00010", 2), ("I00099", 1))
    rows = source.select(
        Select(
            PARTS, ("ITEM_ID", "LINE", "AMOUNT"), (Condition(("ITEM_ID", "LINE"), "in", wanted),)
        )
    )
    got = sorted(normalized(source, PARTS, ("ITEM_ID", "LINE", "AMOUNT"), rows))
    assert got == sorted(r for r in dataset.parts() if (r[0], r[1]) in set(wanted))
    assert len(got) == 3


def test_related_is_a_semi_join(source: Source) -> None:
    """Parts of the items whose code is RN: each part once, however many items match."""
    rule = Related(("ITEM_ID",), ITEMS, ("ID",), (Condition("CODE", "eq", "RN"),))
    rows = source.select(
        Select(PARTS, ("ITEM_ID", "LINE"), (rule,), (Order("ITEM_ID"), Order("LINE")))
    )
    running = {r[0] for r in dataset.items() if CODE(r) == "RN"}
    want = [(p[0], p[1]) for p in sorted(dataset.parts()) if p[0] in running]
    assert want
    assert normalized(source, PARTS, ("ITEM_ID", "LINE"), rows) == want


def test_related_nests_and_combines(source: Source) -> None:
    """Parts of items owned in the EU, with more conditions beside the rule."""
    in_eu = Related(("OWNER_ID",), OWNERS, ("OWNER_ID",), (Condition("REGION", "eq", "EU"),))
    rule = Related(("ITEM_ID",), ITEMS, ("ID",), (in_eu,))
    where = (rule, Condition("AMOUNT", "gt", 100))
    rows = source.select(
        Select(PARTS, ("ITEM_ID", "LINE"), where, (Order("ITEM_ID"), Order("LINE")))
    )
    eu = {o[0] for o in dataset.owners() if o[1] == "EU"}
    items_in_eu = {r[0] for r in dataset.items() if r[7] in eu}
    want = [(p[0], p[1]) for p in sorted(dataset.parts()) if p[0] in items_in_eu and p[2] > 100]
    assert want and len(want) < len(dataset.parts())
    assert normalized(source, PARTS, ("ITEM_ID", "LINE"), rows) == want
    count, exact = source.count(Select(PARTS, (), where))
    assert (count, exact) == (len(want), True)


def _sort_key(row: Row, order: list[tuple[str, bool]], nulls: str = "greatest") -> tuple:
    """NULL is the greatest value (or the least, as the source declares);
    descending reverses each column."""
    null_rank = 1 if nulls == "greatest" else -1
    key = []
    for name, descending in order:
        value = col(name)(row)
        rank = (null_rank, 0) if value is None else (0, value)
        if descending:
            rank = _Reversed(rank)
        key.append(rank)
    return tuple(key)


class _Reversed:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return other.value < self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and other.value == self.value


ORDERS = [
    [("QTY", False), ("ID", False)],
    [("QTY", True), ("ID", False)],
    [("DUE", True), ("ID", True)],
    [("SHIPPED", False), ("PRICE", True), ("ID", False)],
    [("CODE", False), ("DUE", False), ("ID", False)],
]


@pytest.mark.parametrize(
    "order", ORDERS, ids=lambda o: ",".join(("-" if d else "") + n for n, d in o)
)
@pytest.mark.parametrize("page", [1, 7, 100])
def test_keyset_pages_walk_the_whole_order(source: Source, order: list, page: int) -> None:
    """Pages started after the last row of the previous page, concatenated, are the
    whole table in order: nothing skipped, nothing repeated, NULLs included."""
    orders = tuple(Order(n, d) for n, d in order)
    names = tuple(n for n, _ in order)
    positions = [names.index(n) for n in names]
    walked: list[str] = []
    after = None
    while True:
        rows = source.select(Select(ITEMS, ("ID", *names), (), orders, after=after, limit=page))
        walked += ids(rows)
        if len(rows) < page:
            break
        after = tuple(rows[-1][1 + p] for p in positions)
    nulls = source.capabilities.nulls_sort
    want = [r[0] for r in sorted(dataset.items(), key=lambda r: _sort_key(r, order, nulls))]
    assert walked == want


def test_keyset_with_a_filter_and_null_cursor_values(source: Source) -> None:
    orders = (Order("QTY"), Order("ID"))
    where = (Condition("CODE", "in", ("RN", "HD")),)
    everything = ids(source.select(Select(ITEMS, ("ID",), where, orders)))
    last_null = next(r for r in dataset.items() if QTY(r) is None and CODE(r) in ("RN", "HD"))
    rows = source.select(Select(ITEMS, ("ID",), where, orders, after=(None, last_null[0])))
    assert ids(rows) == everything[everything.index(last_null[0]) + 1 :]


def test_duplicates_are_paged_with_skip(source: Source) -> None:
    """A keyless table with exact duplicates: a page starts at the first row equal to
    the cursor and skips the ones already returned."""
    orders = (Order("A"), Order("B"))
    seen: list[Row] = []
    after, skip = None, 0
    for _ in range(50):
        rows = source.select(Select(DUPS, ("A", "B"), (), orders, after=after, skip=skip, limit=2))
        seen += rows
        if len(rows) < 2:
            break
        last = rows[-1]
        run = len(list(itertools.takewhile(last.__eq__, reversed(rows))))
        skip = run + skip if run == len(rows) and after == last else run
        after = last
    assert Counter(seen) == Counter(dataset.dups())


def test_limit_and_columns(source: Source) -> None:
    rows = source.select(Select(ITEMS, ("PRICE", "ID"), (), (Order("ID"),), limit=3))
    assert [(r[0], r[1].rstrip()) for r in rows] == [(r[3], r[0]) for r in dataset.items()[:3]]


def test_count(source: Source) -> None:
    where = (Condition("QTY", "gt", 10),)
    want = sum(1 for r in dataset.items() if QTY(r) is not None and QTY(r) > 10)
    assert source.count(Select(ITEMS, (), where)) == (want, True)
    assert source.count(Select(ITEMS, ())) == (len(dataset.items()), True)


def test_count_estimate(source: Source) -> None:
    count, exact = source.count(Select(ITEMS, ()), estimate=True)
    if not source.capabilities.count_estimate:
        assert (count, exact) == (len(dataset.items()), True)
    else:
        assert count >= 0 and exact is False


DIFFERENTIAL = [
    (where, order)
    for where in [
        (),
        (Condition("CODE", "eq", "HD"), Condition("QTY", "isnull", (False, ()))),
        (Condition("DUE", "gt", 20260110), Condition("DUE", "not_in", (0,))),
        (Condition("NAME", "like", "%o%"),),
        (Related(("OWNER_ID",), OWNERS, ("OWNER_ID",), (Condition("REGION", "eq", "US"),)),),
        (Condition("SHIPPED", "lt", dt.date(2026, 6, 1)), Condition("PRICE", "lte", Decimal(400))),
    ]
    for order in [(Order("ID"),), (Order("QTY", True), Order("DUE"), Order("ID"))]
]


@pytest.mark.parametrize(("where", "order"), DIFFERENTIAL)
def test_agrees_with_the_reference(
    source: Source, reference: Source, where: tuple, order: tuple
) -> None:
    columns = ("ID", "NAME", "QTY", "PRICE", "DUE", "CODE", "SHIPPED", "OWNER_ID")
    query = Select(ITEMS, columns, where, order, limit=25)
    got = normalized(source, ITEMS, columns, source.select(query))
    assert got == normalized(reference, ITEMS, columns, reference.select(query))
    assert source.count(query) == reference.count(query)
