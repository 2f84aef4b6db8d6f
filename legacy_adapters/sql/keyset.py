"""Keyset pagination in SQL: ORDER BY clauses and the "rows after this one" predicate.

Where NULL sorts is the database's own choice, kept so that an index on the
sort columns delivers the rows in order (a leading `CASE WHEN col IS NULL`
term would make the database sort every matching row instead):

- `greatest`: PostgreSQL (and its index default): NULL after every value
  ascending, first descending; a plain `ORDER BY col [DESC]`.
- `least`: SQLite and MariaDB/MySQL: NULL first ascending, last descending;
  a plain `ORDER BY col [DESC]` too.
- `explicit`: a database whose order is not known (ODBC): NULL made the
  greatest value with a leading `col IS NULL` term, as on PostgreSQL.

When the sort is not unique (a keyless table paged over all its columns, with
duplicates counted by the caller), each column is compared as the database
compares it *exactly* (`Exact`: MariaDB's default collation takes `abc` and
`ABC` as equal, their bytes are not), so that rows the caller counts as
distinct are distinct in SQL too.

The predicate is the lexicographic comparison written out,
`a > x OR (a = x AND b > y) ...`, with each column's NULLs placed where the
order puts them, plus a redundant `a >= x` bound on the first column (when it
excludes only rows already returned) so that the database can start an index
range scan at the cursor (deep pages cost what the first page costs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import sqlalchemy as sa

from legacy_adapters.base import Order

NullOrder = Literal["greatest", "least", "explicit"]
Exact = Callable[[sa.ColumnElement[Any]], sa.ColumnElement[Any]]


# Types without an order a cursor can follow: documents, geometries, xml.
_UNORDERED = (sa.JSON,)
_UNORDERED_NAMES = frozenset(
    {"XML", "POINT", "LINE", "LSEG", "BOX", "PATH", "POLYGON", "CIRCLE", "GEOMETRY",
     "GEOGRAPHY", "LINESTRING", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
     "GEOMETRYCOLLECTION", "TSVECTOR", "TSQUERY"}
)  # fmt: skip


def orderable(col_type: sa.types.TypeEngine[Any]) -> bool:
    """Whether rows can be sorted on this type and found again after a cursor value
    (no JSON, xml or geometry; an array only of such an element type)."""
    if isinstance(col_type, sa.ARRAY):
        return orderable(col_type.item_type)
    if isinstance(col_type, _UNORDERED):
        return False
    name = getattr(col_type, "type_name", None) or type(col_type).__name__
    return str(name).upper() not in _UNORDERED_NAMES


def same(col: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The column as is: the database's comparison is exact for it."""
    return col


def unique_order(table: sa.Table, order: Sequence[Order]) -> bool:
    """The sort columns include a primary key or a unique key over NOT NULL
    columns: no two rows tie."""
    names = {o.column for o in order}
    keys = [tuple(c.name for c in table.primary_key.columns)]
    keys += [tuple(c.name for c in ix.columns) for ix in table.indexes if ix.unique]
    keys += [
        tuple(c.name for c in con.columns)
        for con in table.constraints
        if isinstance(con, sa.UniqueConstraint)
    ]
    return any(
        key and set(key) <= names and all(not _nullable(table.c[c]) for c in key) for key in keys
    )


def _nullable(col: sa.Column) -> bool:
    return bool(col.nullable) and not col.primary_key


def _nulls_last(descending: bool, nulls: NullOrder) -> bool:
    """NULL comes after every value in this column's direction."""
    return (nulls == "least") == descending


def order_clauses(
    table: sa.Table, order: Sequence[Order], nulls: NullOrder = "explicit", exact: Exact = same
) -> list[sa.ColumnElement[Any]]:
    clauses: list[sa.ColumnElement[Any]] = []
    for o in order:
        column = table.c[o.column]
        col = exact(column)
        if nulls == "explicit" and _nullable(column):
            # Constants, not parameters: some DBMSs cannot type a parameter in a CASE.
            is_null = sa.case((col.is_(None), sa.literal_column("1")), else_=sa.literal_column("0"))
            clauses.append(is_null.desc() if o.descending else is_null.asc())
        clauses.append(col.desc() if o.descending else col.asc())
    return clauses


def settled(order: Sequence[Order], after: Sequence[Any], nulls: NullOrder) -> int:
    """How many leading sort columns every row after the cursor has NULL in (the
    cursor is NULL there and NULLs come last): constant, so left out of ORDER BY
    (MariaDB would otherwise sort the rows its index already delivers in order)."""
    count = 0
    for o, value in zip(order[:-1], after, strict=False):
        if value is not None or not _nulls_last(o.descending, nulls):
            break
        count += 1
    return count


def _after(
    col: sa.ColumnElement[Any], nullable: bool, descending: bool, value: Any, nulls: NullOrder
) -> sa.ColumnElement[bool] | None:
    """Rows strictly after `value` in this column's order (None: there are none)."""
    last = _nulls_last(descending, nulls)
    if value is None:
        return col.is_not(None) if nullable and not last else None
    beyond = col < value if descending else col > value
    return sa.or_(beyond, col.is_(None)) if nullable and last else beyond


def _equal(col: sa.ColumnElement[Any], value: Any) -> sa.ColumnElement[bool]:
    return col.is_(None) if value is None else col == value


def keyset_condition(
    table: sa.Table,
    order: Sequence[Order],
    after: Sequence[Any],
    *,
    strict: bool,
    nulls: NullOrder = "explicit",
    exact: Exact = same,
) -> sa.ColumnElement[bool]:
    """Rows after `after` (strictly, or starting at rows equal to it)."""
    if len(order) != len(after):
        raise ValueError("cursor does not match the sort order")
    columns = [table.c[o.column] for o in order]
    cols = [exact(c) for c in columns]
    alternatives = []
    for i, (col, o) in enumerate(zip(cols, order, strict=True)):
        beyond = _after(col, _nullable(columns[i]), o.descending, after[i], nulls)
        if beyond is not None:
            prefix = [_equal(cols[j], after[j]) for j in range(i)]
            alternatives.append(sa.and_(*prefix, beyond))
    if not strict:
        alternatives.append(sa.and_(*(_equal(c, v) for c, v in zip(cols, after, strict=True))))
    condition = sa.or_(*alternatives) if alternatives else sa.false()
    first, first_value, descending = cols[0], after[0], order[0].descending
    if first_value is not None and (
        not _nullable(columns[0]) or not _nulls_last(descending, nulls)
    ):  # every row still to come is at or beyond the cursor's first value
        bound = first <= first_value if descending else first >= first_value
        condition = sa.and_(bound, condition)
    return condition
