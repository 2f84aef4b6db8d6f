"""Keyset pagination in SQL: ORDER BY clauses and the "rows after this one" predicate.

NULL sorts as the greatest value on every dialect (PostgreSQL's default), made
explicit for nullable columns with a leading `col IS NULL` term, so a page
boundary means the same thing on SQLite, PostgreSQL and MariaDB.

The predicate is the lexicographic comparison written out,
`a > x OR (a = x AND b > y) ...`, plus a redundant `a >= x` bound on the first
column so that the database can start an index range scan at the cursor
(deep pages cost what the first page costs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from legacy_adapters.base import Order


def _nullable(col: sa.Column) -> bool:
    return bool(col.nullable) and not col.primary_key


def order_clauses(table: sa.Table, order: Sequence[Order]) -> list[sa.ColumnElement[Any]]:
    clauses: list[sa.ColumnElement[Any]] = []
    for o in order:
        col = table.c[o.column]
        if _nullable(col):
            # Constants, not parameters: some DBMSs cannot type a parameter in a CASE.
            is_null = sa.case((col.is_(None), sa.literal_column("1")), else_=sa.literal_column("0"))
            clauses.append(is_null.desc() if o.descending else is_null.asc())
        clauses.append(col.desc() if o.descending else col.asc())
    return clauses


def _after(col: sa.Column, descending: bool, value: Any) -> sa.ColumnElement[bool]:
    """Rows strictly after `value` in this column's order."""
    nullable = _nullable(col)
    if value is None:
        if descending and nullable:
            return col.is_not(None)
        return sa.false()
    if descending:
        return col < value
    return sa.or_(col > value, col.is_(None)) if nullable else col > value


def _equal(col: sa.Column, value: Any) -> sa.ColumnElement[bool]:
    return col.is_(None) if value is None else col == value


def keyset_condition(
    table: sa.Table, order: Sequence[Order], after: Sequence[Any], *, strict: bool
) -> sa.ColumnElement[bool]:
    """Rows after `after` (strictly, or starting at rows equal to it)."""
    if len(order) != len(after):
        raise ValueError("cursor does not match the sort order")
    cols = [table.c[o.column] for o in order]
    alternatives = []
    for i, (col, o) in enumerate(zip(cols, order, strict=True)):
        prefix = [_equal(cols[j], after[j]) for j in range(i)]
        alternatives.append(sa.and_(*prefix, _after(col, o.descending, after[i])))
    if not strict:
        alternatives.append(sa.and_(*(_equal(c, v) for c, v in zip(cols, after, strict=True))))
    condition = sa.or_(*alternatives)
    first, first_value = cols[0], after[0]
    if first_value is not None and not _nullable(first):
        bound = first <= first_value if order[0].descending else first >= first_value
        condition = sa.and_(bound, condition)
    return condition
