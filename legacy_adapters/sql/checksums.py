"""Range checksums in SQL (the `RangeChecksums` capability of the SQL adapter).

One statement per range: the rows with `lo <= key < hi`, put in parts by nested
CASEs over the cut points (a binary search) and grouped, each part's count and the exact sum of the
database's hash of each row (`Backend.row_hash`). A key of several columns is
compared as a row value, `(a, b) >= (:x, :y)`, which SQLite, PostgreSQL and
MariaDB all understand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from legacy_adapters.base import Key
from legacy_adapters.sql.backends import Backend


def _key(table: sa.Table, key: tuple[str, ...]) -> sa.ColumnElement[Any]:
    columns = [table.c[k] for k in key]
    return columns[0] if len(columns) == 1 else sa.tuple_(*columns)


def _value(table: sa.Table, key: tuple[str, ...], value: Key) -> sa.ColumnElement[Any]:
    params = [sa.bindparam(None, v, type_=table.c[k].type) for k, v in zip(key, value, strict=True)]
    return params[0] if len(params) == 1 else sa.tuple_(*params)


def _within(
    table: sa.Table, key: tuple[str, ...], lo: Key | None, hi: Key | None
) -> list[sa.ColumnElement[bool]]:
    column = _key(table, key)
    where = []
    if lo is not None:
        where.append(column >= _value(table, key, lo))
    if hi is not None:
        where.append(column < _value(table, key, hi))
    return where


def _part(
    column: sa.ColumnElement[Any], bounds: list[sa.ColumnElement[Any]], first: int, last: int
) -> sa.ColumnElement[Any]:
    """The part (first..last) a key falls in, as nested CASEs that halve the parts
    (a binary search: five comparisons a row for 32 parts, not up to 31)."""
    if first == last:
        return sa.literal_column(str(first))
    middle = (first + last + 1) // 2  # parts before it: keys below bounds[middle - 1]
    return sa.case(
        (column < bounds[middle - 1], _part(column, bounds, first, middle - 1)),
        else_=_part(column, bounds, middle, last),
    )


def checksum_statement(
    backend: Backend,
    table: sa.Table,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    lo: Key | None,
    hi: Key | None,
    bounds: Sequence[Key],
) -> sa.Select:
    """(part, count, checksum) per part of the range that holds rows."""
    values = [_value(table, key, b) for b in bounds]
    part = _part(_key(table, key), values, 0, len(bounds))
    hashed = backend.row_hash([table.c[c] for c in columns])
    return (
        sa.select(part.label("lw_part"), sa.func.count(), backend.hash_sum(hashed))
        .where(*_within(table, key, lo, hi))
        .group_by(sa.literal_column("lw_part"))
    )


def rows_statement(
    backend: Backend,
    table: sa.Table,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    lo: Key | None,
    hi: Key | None,
) -> sa.Select:
    """The range's rows in key order: `columns`, then the row's hash."""
    hashed = backend.row_hash([table.c[c] for c in columns])
    return (
        sa.select(*(table.c[c] for c in columns), hashed)
        .where(*_within(table, key, lo, hi))
        .order_by(*(table.c[k] for k in key))
    )
