"""The plan step, pure: each query becomes the legacy `Select` written out here
(conditions per operator and converter, sort and tiebreak, keyset page, row
rules, child plans of `expand`), and running that plan on the in-memory source
returns exactly the rows a plain Python reading of the data set expects.

The mapping is `tests/support/memory_plant.py`: `ID` CHAR(6), `OWNER_ID`
CHAR(4), `CODE` CHAR(4) enum (RN and RNX are both `running`), `DUE` a YYYYMMDD
integer whose 0 means "no date".
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from legacy_adapters.base import Condition, Order, Related, Select, TableRef
from wrapper.access import EVERYTHING, Access, RowFilter
from wrapper.problems import Forbidden, InvalidParameter, ResourceNotFound
from wrapper.query import ItemQuery
from wrapper.translate import Plan

from ..support import memory_plant
from ..support.memory_plant import Plant, legacy_rows

OWNERS, ITEMS, PARTS, DUPS = (TableRef(n) for n in ("OWNERS", "ITEMS", "PARTS", "DUPS"))
C = Condition
Row = dict[str, Any]


@pytest.fixture(scope="module")
def plant() -> Plant:
    return memory_plant.plant()


def plan_list(plant: Plant, name: str, args: str, access: Access = EVERYTHING) -> Plan:
    """As the read path plans it: parsed against the caller's view."""
    view = access.view(plant.resource(name))
    return plant.planner.plan_list(view, plant.query(name, args, view), access)


def walk(plant: Plant, name: str, args: str, access: Access = EVERYTHING) -> list[Row]:
    """Every page of a list, following next_cursor."""
    rows: list[Row] = []
    page = plant.reader.page(plan_list(plant, name, args, access))[0]
    rows += page["data"]
    while page["next_cursor"]:
        following = f"{args}&cursor={page['next_cursor']}"
        page = plant.reader.page(plan_list(plant, name, following, access))[0]
        rows += page["data"]
    return rows


def ids(rows: list[Row], field: str = "id") -> list[Any]:
    return [r[field] for r in rows]


# ---------------------------------------------------------------------------- filters

ITEMS_ROWS = legacy_rows("ITEMS")


def rtrim(value: Any) -> Any:
    return value.rstrip(" ") if isinstance(value, str) else value


FILTERS: list[tuple[str, tuple[Condition, ...], Callable[[Row], bool]]] = [
    # (query string, the legacy conditions, which legacy rows match)
    # CHAR(n): values are padded to the column's length
    ("id=I00005", (C("ID", "eq", "I00005"),), lambda r: r["ID"] == "I00005"),
    ("id[in]=I00001,I0002", (C("ID", "in", ("I00001", "I0002 ")),), lambda r: r["ID"] == "I00001"),
    ("owner_id=OW02", (C("OWNER_ID", "eq", "OW02"),), lambda r: r["OWNER_ID"] == "OW02"),
    ("owner_id[in]=OW2,OW03", (C("OWNER_ID", "in", ("OW2 ", "OW03")),), lambda r: r["OWNER_ID"] == "OW03"),
    ("id[gte]=I0005", (C("ID", "gte", "I0005 "),), lambda r: r["ID"] >= "I0005"),
    # enum: names become CHAR(4) codes; a name with two codes becomes a list
    ("code=held", (C("CODE", "eq", "HD  "),), lambda r: r["CODE"] == "HD"),
    ("code=running", (C("CODE", "in", ("RN  ", "RNX ")),), lambda r: r["CODE"] in ("RN", "RNX")),
    ("code[ne]=held", (C("CODE", "ne", "HD  "),), lambda r: r["CODE"] != "HD"),
    ("code[ne]=running", (C("CODE", "not_in", ("RN  ", "RNX ")),), lambda r: r["CODE"] not in ("RN", "RNX")),
    ("code[in]=held,running,held", (C("CODE", "in", ("HD  ", "RN  ", "RNX ")),), lambda r: r["CODE"] != "DN"),
    ("code[isnull]=true", (C("CODE", "isnull", (True, ())),), lambda r: False),
    # YYYYMMDD: dates become integers; comparisons leave the sentinel 0 out, eq/in/isnull do not
    ("due=2026-01-05", (C("DUE", "eq", 20260105),), lambda r: r["DUE"] == 20260105),
    ("due[in]=2026-01-05,2026-02-06", (C("DUE", "in", (20260105, 20260206)),), lambda r: r["DUE"] in (20260105, 20260206)),
    ("due[gte]=2026-02-01", (C("DUE", "gte", 20260201), C("DUE", "not_in", (0,))), lambda r: r["DUE"] >= 20260201),
    ("due[gt]=2026-02-01", (C("DUE", "gt", 20260201), C("DUE", "not_in", (0,))), lambda r: r["DUE"] > 20260201),
    ("due[lt]=2026-02-01", (C("DUE", "lt", 20260201), C("DUE", "not_in", (0,))), lambda r: 0 < r["DUE"] < 20260201),
    ("due[lte]=2026-01-05", (C("DUE", "lte", 20260105), C("DUE", "not_in", (0,))), lambda r: 0 < r["DUE"] <= 20260105),
    ("due[ne]=2026-01-05", (C("DUE", "ne", 20260105), C("DUE", "not_in", (0,))), lambda r: r["DUE"] not in (0, 20260105)),
    ("due[isnull]=true", (C("DUE", "isnull", (True, (0,))),), lambda r: r["DUE"] == 0),
    ("due[isnull]=false", (C("DUE", "isnull", (False, (0,))),), lambda r: r["DUE"] != 0),
    # plain integers, numbers and dates: no sentinels, NULL matches no comparison
    ("qty=5", (C("QTY", "eq", 5),), lambda r: r["QTY"] == 5),
    ("qty[gt]=10", (C("QTY", "gt", 10),), lambda r: r["QTY"] is not None and r["QTY"] > 10),
    ("qty[ne]=5", (C("QTY", "ne", 5),), lambda r: r["QTY"] is not None and r["QTY"] != 5),
    ("qty[in]=0,5", (C("QTY", "in", (0, 5)),), lambda r: r["QTY"] in (0, 5)),
    ("qty[isnull]=true", (C("QTY", "isnull", (True, ())),), lambda r: r["QTY"] is None),
    ("qty[isnull]=false", (C("QTY", "isnull", (False, ())),), lambda r: r["QTY"] is not None),
    ("price[lte]=100.5", (C("PRICE", "lte", Decimal("100.5")),), lambda r: r["PRICE"] <= Decimal("100.5")),
    ("shipped[gte]=2026-06-01", (C("SHIPPED", "gte", dt.date(2026, 6, 1)),), lambda r: r["SHIPPED"] is not None and r["SHIPPED"] >= dt.date(2026, 6, 1)),
    # patterns: * is the wildcard, % _ \ are escaped; CHAR values may carry pad spaces
    ("name[like]=*bolt*", (C("NAME", "like", "%bolt%"),), lambda r: "bolt" in (r["NAME"] or "").casefold()),
    ("name[like]=mü*", (C("NAME", "like", "mü%"),), lambda r: (r["NAME"] or "").casefold().startswith("mü")),
    ("name[like]=*50%25", (C("NAME", "like", "%50\\%"),), lambda r: (r["NAME"] or "").endswith("50%")),
    ("name[like]=nut_*", (C("NAME", "like", "nut\\_%"),), lambda r: (r["NAME"] or "").startswith("nut_")),
    ("name[startswith]=Bo", (C("NAME", "prefix", "Bo%"),), lambda r: (r["NAME"] or "").startswith("Bo")),
    ("name[startswith]=Gear A\\B", (C("NAME", "prefix", "Gear A\\\\B%"),), lambda r: r["NAME"] == "Gear A\\B"),
    ("id[like]=*5", (C("ID", "like_rtrim", "%5"),), lambda r: r["ID"].endswith("5")),
    ("id[like]=i0001*", (C("ID", "like", "i0001%"),), lambda r: r["ID"].startswith("I0001")),
    ("name[isnull]=true", (C("NAME", "isnull", (True, ())),), lambda r: r["NAME"] is None),
    ("owner_id[isnull]=true", (C("OWNER_ID", "isnull", (True, ())),), lambda r: r["OWNER_ID"] is None),
    # several filters: all of them, in the order written
    (
        "code=running&due[lt]=2026-02-01",
        (C("CODE", "in", ("RN  ", "RNX ")), C("DUE", "lt", 20260201), C("DUE", "not_in", (0,))),
        lambda r: r["CODE"] in ("RN", "RNX") and 0 < r["DUE"] < 20260201,
    ),
]  # fmt: skip


@pytest.mark.parametrize(("args", "where", "matches"), FILTERS, ids=[a for a, _, _ in FILTERS])
def test_filters_become_legacy_conditions_that_select_the_right_rows(
    plant: Plant, args: str, where: tuple[Condition, ...], matches: Callable[[Row], bool]
) -> None:
    plan = plan_list(plant, "items", f"{args}&limit=100")
    assert plan.select == Select(
        table=ITEMS,
        columns=("ID", "NAME", "QTY", "PRICE", "DUE", "CODE", "SHIPPED", "OWNER_ID"),
        where=where,
        order_by=(Order("ID"),),
        limit=101,
    )
    expected = sorted(r["ID"] for r in ITEMS_ROWS if matches(r))
    assert ids(plant.reader.page(plan)[0]["data"]) == expected
    if args != "code[isnull]=true":
        assert 0 < len(expected) < len(ITEMS_ROWS), "a case that tells something apart"


CONVERSION_REFUSED = [
    # (query string, parameter, detail): parsing accepted them, the converter does not
    ("due=2026-13-01", "due", "'2026-13-01' is not a date in the form YYYY-MM-DD"),
    ("due[in]=2026-01-01,soon", "due[in]", "'soon' is not a date in the form YYYY-MM-DD"),
    ("id=I000001", "id", "'I000001' is longer than the field's 6 characters"),
    ("owner_id[in]=OW01,OW001", "owner_id[in]", "'OW001' is longer than the field's 4 characters"),
    ("code=bogus", "code", "'bogus' is not one of: done, held, running"),
    ("code[in]=held,", "code[in]", "'' is not one of: done, held, running"),
    ("qty=1.5", "qty", "'1.5' is not an integer (digits 0-9)"),
    ("qty[lt]=١", "qty[lt]", "'١' is not an integer (digits 0-9)"),
    ("price=lots", "price", "'lots' is not a number (digits 0-9, optional . and exponent)"),
    ("price=NaN", "price", "'NaN' is not a number (digits 0-9, optional . and exponent)"),
    ("shipped=yesterday", "shipped", "'yesterday' is not a date in the form YYYY-MM-DD"),
]


@pytest.mark.parametrize(
    ("args", "parameter", "detail"), CONVERSION_REFUSED, ids=[a for a, _, _ in CONVERSION_REFUSED]
)
def test_values_the_converter_cannot_take_are_refused_naming_the_parameter(
    plant: Plant, args: str, parameter: str, detail: str
) -> None:
    with pytest.raises(InvalidParameter) as info:
        plan_list(plant, "items", args)
    assert (info.value.extensions["parameter"], info.value.detail) == (parameter, detail)


# ---------------------------------------------------------------------------- sort and layout

SORTS = [
    # (resource, query string, order_by, columns, whether the order is unique)
    ("items", "", (Order("ID"),), None, True),
    ("items", "sort=-due", (Order("DUE", True), Order("ID")), None, True),
    ("items", "sort=name,-qty", (Order("NAME"), Order("QTY", True), Order("ID")), None, True),
    ("items", "sort=-id,due", (Order("ID", True), Order("DUE")), None, True),
    ("items", "fields=name&sort=-due", (Order("DUE", True), Order("ID")), ("NAME", "DUE", "ID"), True),
    ("items", "fields=qty,id", (Order("ID"),), ("QTY", "ID"), True),
    ("items", "fields=qty&expand=owner", (Order("ID"),), ("QTY", "ID", "OWNER_ID"), True),
    ("parts", "", (Order("ITEM_ID"), Order("LINE")), ("ITEM_ID", "LINE", "AMOUNT"), True),
    ("parts", "sort=-line", (Order("LINE", True), Order("ITEM_ID")), None, True),
    ("dups", "", (Order("A"), Order("B")), ("A", "B"), False),
    ("dups", "sort=-a&fields=b", (Order("A", True), Order("B")), ("B", "A"), False),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "args", "order", "columns", "unique"), SORTS, ids=[f"{n}?{a}" for n, a, *_ in SORTS]
)
def test_sort_then_the_tiebreak_each_column_once(
    plant: Plant,
    name: str,
    args: str,
    order: tuple[Order, ...],
    columns: tuple[str, ...] | None,
    unique: bool,
) -> None:
    plan = plan_list(plant, name, args)
    assert plan.select.order_by == order
    assert plan.unique_order is unique
    if columns is not None:
        assert plan.select.columns == columns
    layout = plan.layout
    assert tuple(layout.columns[p] for p in layout.order_positions) == tuple(
        o.column for o in order
    )
    for field, position in zip(layout.names, layout.positions, strict=True):
        assert layout.columns[position] == plant.resource(name).by_name[field].column


def legacy_key(column: str) -> Callable[[Row], Any]:
    """Sort key of one column: NULL after every value (before them when reversed)."""

    def key(row: Row) -> Any:
        value = row[column]
        return (value is None, value if value is not None else 0)

    return key


@pytest.mark.parametrize(
    ("args", "order"),
    [
        ("sort=-due", [("DUE", True), ("ID", False)]),
        ("sort=qty", [("QTY", False), ("ID", False)]),
        ("sort=-qty", [("QTY", True), ("ID", False)]),
        ("sort=name,-due", [("NAME", False), ("DUE", True), ("ID", False)]),
    ],
)
def test_pages_follow_the_order_without_skipping_or_repeating(
    plant: Plant, args: str, order: list[tuple[str, bool]]
) -> None:
    expected = list(ITEMS_ROWS)
    for column, descending in reversed(order):  # a stable sort per column, last first
        expected.sort(key=legacy_key(column), reverse=descending)
    got = walk(plant, "items", f"{args}&limit=7&fields=id")
    assert ids(got) == [r["ID"] for r in expected]


# ---------------------------------------------------------------------------- cursors


def test_a_cursor_becomes_the_keyset_after_the_last_row(plant: Plant) -> None:
    first = plan_list(plant, "items", "sort=-due&limit=5")
    page = plant.reader.page(first)[0]
    last = page["data"][-1]
    second = plan_list(plant, "items", f"sort=-due&limit=5&cursor={page['next_cursor']}")
    assert first.select.after is None
    assert second.select.after == (int(last["due"].replace("-", "")), last["id"])
    assert second.select.skip == 0
    assert (second.select.where, second.select.order_by) == (
        first.select.where,
        first.select.order_by,
    )


def test_a_keyless_cursor_counts_the_duplicates_already_returned(plant: Plant) -> None:
    # DUPS in order: (1, X) nine times, (1, Y) three, (2, Y) six, (3, Z) three, (4, W)
    selects: list[Select] = []
    args, rows = "limit=4", []
    while True:
        plan = plan_list(plant, "dups", args)
        selects.append(plan.select)
        page = plant.reader.page(plan)[0]
        rows += [(r["a"], r["b"]) for r in page["data"]]
        if not page["next_cursor"]:
            break
        args = f"limit=4&cursor={page['next_cursor']}"
    assert [(s.after, s.skip) for s in selects] == [
        (None, 0),
        ((1, "X"), 4),  # four of the nine (1, X) returned
        ((1, "X"), 8),  # a page of nothing but (1, X): the count goes on
        ((1, "Y"), 3),  # (1, X) then three (1, Y)
        ((2, "Y"), 4),
        ((3, "Z"), 2),
    ]
    assert Counter(rows) == Counter((r["A"], r["B"]) for r in legacy_rows("DUPS"))


def cursor_for(plant: Plant, name: str, args: str, values: tuple[Any, ...], skip: int) -> str:
    layout = plan_list(plant, name, args).layout
    return plant.cursors.encode(layout.cursor_print, values, skip)


@pytest.mark.parametrize(
    ("name", "args", "values", "skip"),
    [
        ("items", "", ("I00005",), 1),  # a unique order never skips
        ("items", "", (5,), 0),  # ID is CHAR: a number cannot be there
        ("items", "", ("I00005", "x"), 0),  # one value per order column
        ("items", "", (), 0),
        ("items", "", ("I00005",), -1),
        ("dups", "", (1,), 2),
    ],
)
def test_a_cursor_that_does_not_fit_is_refused(
    plant: Plant, name: str, args: str, values: tuple[Any, ...], skip: int
) -> None:
    cursor = cursor_for(plant, name, args, values, skip)
    with pytest.raises(InvalidParameter) as info:
        plan_list(plant, name, f"{args}&cursor={cursor}")
    assert info.value.extensions["parameter"] == "cursor"


@pytest.mark.parametrize(
    ("made_for", "used_with"),
    [
        ("items?sort=-due", "items?sort=due"),
        ("items?sort=-due", "items?"),
        ("items?", "parts?"),
        ("dups?", "items?"),
    ],
)
def test_a_cursor_of_another_sort_or_resource_is_refused(
    plant: Plant, made_for: str, used_with: str
) -> None:
    name, _, args = made_for.partition("?")
    page = plant.reader.page(plan_list(plant, name, f"{args}&limit=2"))[0]
    other, _, other_args = used_with.partition("?")
    with pytest.raises(InvalidParameter) as info:
        plan_list(plant, other, f"{other_args}&cursor={page['next_cursor']}")
    assert "another sort order or resource" in info.value.detail


# ---------------------------------------------------------------------------- row rules


def owner_rule(*owners: str) -> dict[str, tuple[RowFilter, ...]]:
    return {"owners": (RowFilter("owner_id", owners, "owner"),)}


def related_owner(*where: Condition) -> Related:
    return Related(("OWNER_ID",), OWNERS, ("OWNER_ID",), where)


ROW_RULES = [
    # (resource, access, the predicates the plan puts first in WHERE)
    ("owners", Access(rows=owner_rule("OW01")), (C("OWNER_ID", "eq", "OW01"),)),
    ("owners", Access(rows=owner_rule("OW01", "OW2")), (C("OWNER_ID", "in", ("OW01", "OW2 ")),)),
    ("items", Access(rows=owner_rule("OW01")), ()),  # a rule on owners only
    (
        "items",
        Access(rows=owner_rule("OW01"), through=frozenset({"items"})),
        (related_owner(C("OWNER_ID", "eq", "OW01")),),
    ),
    (
        "parts",
        Access(rows=owner_rule("OW01", "OW03"), through=frozenset({"items", "parts"})),
        (Related(("ITEM_ID",), ITEMS, ("ID",), (related_owner(C("OWNER_ID", "in", ("OW01", "OW03"))),)),),
    ),
    (
        "items",
        Access(rows={"items": (RowFilter("code", ("held",), "code"), RowFilter("due", ("2026-01-05", "2026-01-06"), "day"))}),
        (C("CODE", "eq", "HD  "), C("DUE", "in", (20260105, 20260106))),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "access", "rules"), ROW_RULES)
def test_row_rules_are_conditions_and_semi_joins(
    plant: Plant, name: str, access: Access, rules: tuple
) -> None:
    assert plant.planner.row_rules(plant.resource(name), access) == rules
    listed = plan_list(plant, name, "", access)
    assert listed.select.where == rules
    key = "I00001" if name == "items" else "OW01" if name == "owners" else "I00001,1"
    item = plant.planner.plan_item(plant.resource(name), key, ItemQuery(), access)
    assert item.select.where[: len(rules)] == rules


def test_row_rules_come_before_the_callers_filters(plant: Plant) -> None:
    access = Access(rows=owner_rule("OW01"), through=frozenset({"items"}))
    plan = plan_list(plant, "items", "code=held", access)
    assert plan.select.where == (
        related_owner(C("OWNER_ID", "eq", "OW01")),
        C("CODE", "eq", "HD  "),
    )


@pytest.mark.parametrize("name", ["owners", "items", "parts"])
def test_a_claim_the_field_cannot_hold_is_forbidden_not_a_bad_parameter(
    plant: Plant, name: str
) -> None:
    access = Access(rows=owner_rule("OW001"), through=frozenset({"items", "parts"}))
    with pytest.raises(Forbidden) as info:
        plan_list(plant, name, "", access)
    assert info.value.detail == "the 'owner' claim does not fit owners"


def owners_of_items() -> dict[str, str | None]:
    return {r["ID"]: r["OWNER_ID"] for r in ITEMS_ROWS}


@pytest.mark.parametrize("owners", [("OW05",), ("OW02", "OW03")])
def test_rows_through_relations_are_those_of_visible_owners(
    plant: Plant, owners: tuple[str, ...]
) -> None:
    access = Access(rows=owner_rule(*owners), through=frozenset({"items", "parts"}))
    assert ids(walk(plant, "owners", "limit=3", access), "owner_id") == sorted(owners)
    items = ids(walk(plant, "items", "limit=7&sort=-due", access))
    expected_items = {i for i, o in owners_of_items().items() if o in owners}
    assert len(items) == len(expected_items) and set(items) == expected_items
    parts = [(p["item_id"], p["line"]) for p in walk(plant, "parts", "limit=5", access)]
    assert parts == sorted(
        (p["ITEM_ID"], p["LINE"]) for p in legacy_rows("PARTS") if p["ITEM_ID"] in expected_items
    )
    assert parts, "the owners have parts"
    # the same rule limits single items: another owner's item is not found
    mine = sorted(expected_items)[0]
    other = next(i for i, o in owners_of_items().items() if o not in owners)
    read = plant.planner.plan_item
    assert plant.reader.item(read(plant.resource("items"), mine, ItemQuery(), access), mine)[0]
    with pytest.raises(ResourceNotFound):
        plant.reader.item(read(plant.resource("items"), other, ItemQuery(), access), other)[0]


# ---------------------------------------------------------------------------- items by key


@pytest.mark.parametrize(
    ("name", "key", "where"),
    [
        ("items", "I00005", (C("ID", "eq", "I00005"),)),
        ("items", "I5", (C("ID", "eq", "I5    "),)),
        ("owners", "OW01", (C("OWNER_ID", "eq", "OW01"),)),
        ("parts", "I00001,2", (C("ITEM_ID", "eq", "I00001"), C("LINE", "eq", 2))),
    ],
)
def test_an_item_is_read_by_its_key_in_legacy_form(
    plant: Plant, name: str, key: str, where: tuple[Condition, ...]
) -> None:
    plan = plant.planner.plan_item(plant.resource(name), key, ItemQuery())
    assert (plan.select.where, plan.select.order_by, plan.select.limit) == (where, (), 2)


@pytest.mark.parametrize(
    ("name", "key", "problem"),
    [
        ("parts", "I00001", InvalidParameter),  # two key fields
        ("parts", "I00001,1,2", InvalidParameter),
        ("parts", "I00001,x", ResourceNotFound),  # no such key can exist
        ("items", "I0000001", ResourceNotFound),
    ],
)
def test_an_impossible_key_is_refused_or_not_found(
    plant: Plant, name: str, key: str, problem: type[Exception]
) -> None:
    with pytest.raises(problem):
        plant.planner.plan_item(plant.resource(name), key, ItemQuery())


# ---------------------------------------------------------------------------- expand


def test_a_child_plan_reads_the_related_rows_by_join_key(plant: Plant) -> None:
    plan = plan_list(plant, "items", "fields=id&expand=owner,parts")
    owner, parts = plan.children
    assert plan.select.columns == ("ID", "OWNER_ID")  # the join column is fetched too
    assert owner.select == Select(OWNERS, ("OWNER_ID", "REGION"), order_by=(Order("OWNER_ID"),))
    assert (owner.local_positions, owner.remote_columns, owner.remote_positions) == (
        (1,),
        ("OWNER_ID",),
        (0,),
    )
    assert owner.matching([("OW01",), ("OW02",)]).where == (C("OWNER_ID", "in", ("OW01", "OW02")),)
    assert parts.select.columns == ("ITEM_ID", "LINE", "AMOUNT")
    assert parts.select.order_by == (Order("ITEM_ID"), Order("LINE"))
    assert (parts.local_positions, parts.remote_columns) == ((0,), ("ITEM_ID",))
    assert parts.matching([("I00001",)]).where == (C("ITEM_ID", "in", ("I00001",)),)


def test_a_composite_join_matches_column_tuples(plant: Plant) -> None:
    (same,) = plan_list(plant, "parts", "expand=same").children
    keys = [("I00001", 1), ("I00004", 2)]
    assert same.matching(keys).where == (C(("ITEM_ID", "LINE"), "in", tuple(keys)),)
    page = plant.reader.page(plan_list(plant, "parts", "expand=same&limit=100"))[0]
    for part in page["data"]:
        assert part["same"] == {k: part[k] for k in ("item_id", "line", "amount")}


def test_child_plans_carry_the_callers_rules_and_view(plant: Plant) -> None:
    items = plant.resource("items")
    access = Access(
        rows=owner_rule("OW01"),
        through=frozenset({"items", "parts"}),
        hidden={"items": frozenset({"price"})},
        views={"items": items.view(frozenset({"price"}))},
    )
    (embedded,) = plan_list(plant, "owners", "expand=items", access).children
    assert "price" not in embedded.names and "PRICE" not in embedded.select.columns
    assert embedded.select.where == (related_owner(C("OWNER_ID", "eq", "OW01")),)
    matched = embedded.matching([("OW01",)])
    assert matched.where == (*embedded.select.where, C("OWNER_ID", "in", ("OW01",)))
    (parts,) = plan_list(plant, "items", "expand=parts", access).children
    assert parts.select.where == (
        Related(("ITEM_ID",), ITEMS, ("ID",), (related_owner(C("OWNER_ID", "eq", "OW01")),)),
    )


def test_expanded_rows_are_the_related_rows(plant: Plant) -> None:
    owners = {r["OWNER_ID"]: r["REGION"] for r in legacy_rows("OWNERS")}
    parts: dict[str, list[tuple[int, int]]] = {}
    for p in sorted(legacy_rows("PARTS"), key=lambda p: (p["ITEM_ID"], p["LINE"])):
        parts.setdefault(p["ITEM_ID"], []).append((p["LINE"], p["AMOUNT"]))
    got = walk(plant, "items", "limit=9&fields=id,owner_id&expand=owner,parts")
    assert len(got) == len(ITEMS_ROWS)
    for item in got:
        owner = item["owner_id"]
        assert item["owner"] == (owner and {"owner_id": owner, "region": owners[owner]})
        assert [(p["line"], p["amount"]) for p in item["parts"]] == parts.get(item["id"], [])
    assert any(item["parts"] for item in got) and any(item["owner"] is None for item in got)


def test_expanded_rows_stay_inside_the_row_rules(plant: Plant) -> None:
    access = Access(rows=owner_rule("OW03"), through=frozenset({"items", "parts"}))
    (owner,) = walk(plant, "owners", "expand=items", access)
    expected = sorted(i for i, o in owners_of_items().items() if o == "OW03")
    assert ids(owner["items"]) == expected
    # items of the visible owner embed their owner; everything else is out of reach
    for item in walk(plant, "items", "expand=owner", access):
        assert item["owner"]["owner_id"] == "OW03"
