"""An in-memory legacy source: the executable definition of every legacy operator.

It evaluates a `Select` over rows held in Python, exactly as the contract in
`base.py` describes, and every other adapter must return what it returns for
the same data (the compliance suite under `tests/legacy_adapters/` checks
that). It also serves facade tests that need no database.

Semantics, chosen to agree with SQL databases:

- NULL (`None`) never matches a comparison, `ne`, `in` or `not_in`;
- values of fixed-length (`CHAR(n)`) columns compare without trailing pad
  spaces, as SQL's PAD SPACE comparison does;
- `like` and `like_rtrim` fold case (Unicode case folding); `prefix` compares
  exactly (the case-sensitive collation legacy keys use);
- NULL sorts as the greatest value, after every other value ascending and
  before them descending (or as the least, `nulls_sort="least"`, to stand
  for a database that sorts them so, as SQLite and MariaDB do).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from legacy_adapters.base import (
    Capabilities,
    Condition,
    Predicate,
    Related,
    Schema,
    SchemaMismatch,
    Select,
    SourceUnavailable,
    TableInfo,
    TableRef,
    UnsupportedQuery,
)

Row = tuple[Any, ...]
RowTest = Callable[[Row], bool]


class MemorySource:
    """A `Source` over rows kept in memory, one list of tuples per table."""

    dialect = "memory"

    def __init__(
        self,
        tables: Mapping[TableInfo, Iterable[Sequence[Any]]],
        nulls_sort: Literal["greatest", "least"] = "greatest",
    ) -> None:
        self.capabilities = Capabilities(read_only_enforced=True, nulls_sort=nulls_sort)
        self._null_rank = 1 if nulls_sort == "greatest" else -1
        self._infos = {info.ref: info for info in tables}
        self._rows = {info.ref: [tuple(row) for row in rows] for info, rows in tables.items()}
        self._lock = threading.Lock()
        self.available = True  # tests switch it off to simulate an outage

    # ------------------------------------------------------------------ contract

    def reflect(
        self,
        tables: Iterable[TableRef] | None = None,
        schemas: Sequence[str | None] = (None,),
    ) -> Schema:
        self._check()
        if tables is not None:
            wanted = set(tables)
            infos = [i for ref, i in self._infos.items() if ref in wanted]
        else:
            infos = [i for i in self._infos.values() if i.ref.schema in schemas]
        infos.sort(key=lambda t: (t.ref.schema or "", t.ref.name))
        return Schema(dialect=self.dialect, tables=tuple(infos))

    def select(self, query: Select) -> list[Row]:
        self._check()
        info = self._info(query.table)
        positions = [_position(info, c) for c in query.columns]
        rows = self._matching(info, query.where)
        if query.order_by:
            order = [(_position(info, o.column), o.descending) for o in query.order_by]
            rows.sort(key=functools.cmp_to_key(_comparator(info, order, self._null_rank)))
            if query.after is not None:
                rows = _after(info, rows, order, query.after, query.skip, self._null_rank)
        if query.limit is not None:
            rows = rows[: query.limit]
        return [tuple(row[p] for p in positions) for row in rows]

    def count(self, query: Select, estimate: bool = False) -> tuple[int, bool]:
        self._check()
        return len(self._matching(self._info(query.table), query.where)), True

    def ping(self) -> None:
        self._check()

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ test helpers

    def insert(self, table: TableRef, row: Sequence[Any]) -> None:
        with self._lock:
            self._rows[table].append(tuple(row))

    def replace_rows(self, table: TableRef, rows: Iterable[Sequence[Any]]) -> None:
        with self._lock:
            self._rows[table] = [tuple(r) for r in rows]

    # ------------------------------------------------------------------ evaluation

    def _check(self) -> None:
        if not self.available:
            raise SourceUnavailable("the in-memory source is switched off")

    def _info(self, ref: TableRef) -> TableInfo:
        info = self._infos.get(ref)
        if info is None:
            raise SchemaMismatch(f"table {ref} is not in the in-memory source")
        return info

    def _matching(self, info: TableInfo, where: Sequence[Predicate]) -> list[Row]:
        tests = [self._test(info, p) for p in where]
        with self._lock:
            rows = list(self._rows[info.ref])
        return [row for row in rows if all(test(row) for test in tests)]

    def _test(self, info: TableInfo, pred: Predicate) -> RowTest:
        if isinstance(pred, Related):
            inner = self._info(pred.table)
            wanted = {_key(inner, pred.remote, row) for row in self._matching(inner, pred.where)}
            return lambda row: _key(info, pred.columns, row) in wanted
        return _condition(info, pred)


def _position(info: TableInfo, column: str) -> int:
    for i, col in enumerate(info.columns):
        if col.name == column:
            return i
    raise SchemaMismatch(f"column {column!r} is not in {info.ref}")


def _normalizer(info: TableInfo, column: str) -> Callable[[Any], Any]:
    col = info.column(column)
    if col is not None and col.fixed_length:
        return lambda v: v.rstrip(" ") if isinstance(v, str) else v
    return lambda v: v


def _key(info: TableInfo, columns: Sequence[str], row: Row) -> tuple[Any, ...] | None:
    values = []
    for column in columns:
        value = row[_position(info, column)]
        if value is None:
            return None  # NULL joins nothing
        values.append(_normalizer(info, column)(value))
    return tuple(values)


def like_regex(pattern: str, *, fold: bool) -> re.Pattern[str]:
    """A SQL LIKE pattern with backslash escapes as a regular expression."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    text = "".join(out)
    return re.compile(text.casefold() if fold else text, re.DOTALL)


def _condition(info: TableInfo, cond: Condition) -> RowTest:
    if isinstance(cond.column, tuple):
        if cond.op != "in":
            raise UnsupportedQuery(f"operator {cond.op!r} on a column tuple")
        wanted = {
            tuple(_normalizer(info, c)(v) for c, v in zip(cond.column, values, strict=True))
            for values in cond.value
        }
        columns = cond.column
        return lambda row: _key(info, columns, row) in wanted
    pos = _position(info, cond.column)
    norm = _normalizer(info, cond.column)
    op, value = cond.op, cond.value
    if op == "isnull":
        is_null, sentinels = value
        nulls = {norm(s) for s in sentinels}
        return lambda row: (row[pos] is None or norm(row[pos]) in nulls) == is_null
    if op in ("in", "not_in"):
        values = {norm(v) for v in value}
        inside = op == "in"
        return lambda row: row[pos] is not None and (norm(row[pos]) in values) == inside
    if op in ("prefix", "like", "like_rtrim"):
        regex = like_regex(value, fold=op != "prefix")
        if op == "prefix":
            return lambda row: row[pos] is not None and bool(regex.fullmatch(str(row[pos])))
        strip = op == "like_rtrim"

        def like(row: Row) -> bool:
            cell = row[pos]
            if cell is None:
                return False
            text = str(cell).rstrip(" ") if strip else str(cell)
            return bool(regex.fullmatch(text.casefold()))

        return like
    compare = _COMPARISONS.get(op)
    if compare is None:
        raise UnsupportedQuery(f"unknown operator {op!r}")
    target = norm(value)
    return lambda row: row[pos] is not None and compare(norm(row[pos]), target)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def _compare_values(a: Any, b: Any, null_rank: int = 1) -> int:
    """NULL is the greatest value (`null_rank` 1) or the least (-1)."""
    if a is None or b is None:
        return ((a is None) - (b is None)) * null_rank
    return (a > b) - (a < b)


def _comparator(
    info: TableInfo, order: Sequence[tuple[int, bool]], null_rank: int = 1
) -> Callable[[Row, Row], int]:
    norms = [_normalizer(info, info.columns[p].name) for p, _ in order]

    def compare(a: Row, b: Row) -> int:
        for (pos, descending), norm in zip(order, norms, strict=True):
            result = _compare_values(norm(a[pos]), norm(b[pos]), null_rank)
            if result:
                return -result if descending else result
        return 0

    return compare


def _after(
    info: TableInfo,
    rows: list[Row],
    order: Sequence[tuple[int, bool]],
    after: Sequence[Any],
    skip: int,
    null_rank: int = 1,
) -> list[Row]:
    """Keyset paging: the rows after `after` (strictly when `skip == 0`; else from
    the first row equal to it, skipping the first `skip` rows from there)."""
    compare = _comparator(info, order, null_rank)
    probe = [None] * len(info.columns)
    for (pos, _), value in zip(order, after, strict=True):
        probe[pos] = value
    cursor = tuple(probe)
    if skip == 0:
        return [row for row in rows if compare(row, cursor) > 0]
    return [row for row in rows if compare(row, cursor) >= 0][skip:]


__all__ = ["MemorySource", "like_regex"]
