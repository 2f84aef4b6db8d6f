"""SQLAlchemy Core statements for `Select`s, built once per query shape.

Building a Core statement costs more than running a small indexed query, so
statements are cached by *shape* (table, columns, condition columns and
operators, sort, which cursor values are NULL, paging form) with every value a
bound parameter: `status=running` and `status=held` share one statement.
`statement_values` walks a query in exactly the order `build_statement`
creates parameters, so a cache hit only collects values.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import sqlalchemy as sa

from legacy_adapters.base import Condition, Predicate, Related, Select, TableRef, UnsupportedQuery
from legacy_adapters.sql.keyset import (
    Exact,
    NullOrder,
    keyset_condition,
    order_clauses,
    orderable,
    same,
    settled,
    unique_order,
)

Resolve = Callable[[TableRef], sa.Table]  # reflected tables by reference
# How a statement is limited to a page: (statement, its ORDER BY clauses, the
# LIMIT parameter or None, the OFFSET parameter or None) -> the paged statement.
Paginate = Callable[
    [sa.Select, Sequence[sa.ColumnElement[Any]], sa.BindParameter | None, sa.BindParameter | None],
    sa.Select,
]
_SINGLE = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "prefix", "like", "like_rtrim"})
_LIST = frozenset({"in", "not_in"})
_EQUALITY = frozenset({"eq", "ne", "in", "not_in"})


class _Binder:
    """Hands out parameters p0, p1, ... in traversal order."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, expanding: bool = False) -> sa.BindParameter[Any]:
        name = f"p{self.count}"
        self.count += 1
        return sa.bindparam(name, expanding=expanding)


def _predicate(
    table: sa.Table, pred: Predicate, bind: _Binder, resolve: Resolve
) -> sa.ColumnElement[bool]:
    if isinstance(pred, Related):
        inner = resolve(pred.table).alias()
        nested = [_predicate(inner, p, bind, resolve) for p in pred.where]
        if len(pred.columns) == 1:
            # `col IN (SELECT ...)`: every backend can drive the read from the
            # subquery's index (SQLite cannot for a correlated EXISTS).
            (local,), (remote,) = pred.columns, pred.remote
            return table.c[local].in_(sa.select(inner.c[remote]).where(*nested))
        links = [
            inner.c[remote] == table.c[local]
            for local, remote in zip(pred.columns, pred.remote, strict=True)
        ]
        return sa.exists().where(*links, *nested)
    return _condition(table, pred, bind)


def _condition(
    table: sa.Table | sa.Alias, cond: Condition, bind: _Binder
) -> sa.ColumnElement[bool]:
    if isinstance(cond.column, tuple):
        if cond.op != "in":
            raise UnsupportedQuery(f"operator {cond.op!r} on a column tuple")
        return sa.tuple_(*(table.c[name] for name in cond.column)).in_(bind(expanding=True))
    col = table.c[cond.column]
    if cond.op in _EQUALITY and hasattr(col.type, "filter_form"):
        col = col.type.filter_form(col)  # e.g. SQLite booleans stored as 't'/'f'
    match cond.op:
        case "eq":
            return col == bind()
        case "ne":
            return col != bind()
        case "lt":
            return col < bind()
        case "lte":
            return col <= bind()
        case "gt":
            return col > bind()
        case "gte":
            return col >= bind()
        case "in":
            return col.in_(bind(expanding=True))
        case "not_in":
            return col.not_in(bind(expanding=True))
        case "prefix":
            return col.like(bind(), escape="\\")
        case "like":
            return col.ilike(bind(), escape="\\")
        case "like_rtrim":
            return sa.func.rtrim(col).ilike(bind(), escape="\\")
        case "isnull":
            is_null, sentinels = cond.value
            expr = col.is_(None)
            if sentinels:
                expr = sa.or_(expr, col.in_(bind(expanding=True)))
            return expr if is_null else sa.not_(expr)
    raise UnsupportedQuery(f"unknown operator {cond.op!r}")


def where_clauses(
    table: sa.Table, where: Sequence[Predicate], bind: _Binder, resolve: Resolve
) -> list[sa.ColumnElement[bool]]:
    return [_predicate(table, pred, bind, resolve) for pred in where]


def limit_offset(
    stmt: sa.Select,
    order: Sequence[sa.ColumnElement[Any]],
    limit: sa.BindParameter | None,
    offset: sa.BindParameter | None,
) -> sa.Select:
    """Core's own LIMIT/OFFSET, rendered by each SQLAlchemy dialect."""
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset is not None:
        stmt = stmt.offset(offset)
    return stmt


def build_statement(
    table: sa.Table,
    query: Select,
    resolve: Resolve,
    paginate: Paginate = limit_offset,
    nulls: NullOrder = "explicit",
    exact: Exact = same,
) -> sa.Select:
    """The statement for `query`'s shape, every value a parameter; NULLs sorted
    where `nulls` says the database puts them, and a sort that is not unique
    compared `exact`ly (see `keyset`)."""
    bind = _Binder()
    stmt = sa.select(*(table.c[name] for name in query.columns))
    stmt = stmt.where(*where_clauses(table, query.where, bind, resolve))
    for o in query.order_by:
        if not orderable(table.c[o.column].type):
            raise UnsupportedQuery(f"{o.column} cannot be sorted on: its type has no order")
    if query.order_by and unique_order(table, query.order_by):
        exact = same  # no ties: the database's own comparison, which its indexes follow
    if query.after is not None:
        after = [None if v is None else bind() for v in query.after]
        strict = query.skip == 0
        condition = keyset_condition(
            table, query.order_by, after, strict=strict, nulls=nulls, exact=exact
        )
        stmt = stmt.where(condition)
    order_by = query.order_by
    if query.after is not None:
        order_by = order_by[settled(order_by, query.after, nulls) :]
    order = order_clauses(table, order_by, nulls, exact)
    stmt = stmt.order_by(*order)
    limit = bind() if query.limit is not None else None
    offset = bind() if query.skip else None
    return paginate(stmt, order, limit, offset)


def _collect(where: Sequence[Predicate], values: list[Any]) -> None:
    for cond in where:
        if isinstance(cond, Related):
            _collect(cond.where, values)
        elif isinstance(cond.column, tuple):
            values.append([tuple(v) for v in cond.value])
        elif cond.op in _SINGLE:
            values.append(cond.value)
        elif cond.op in _LIST:
            values.append(list(cond.value))
        elif cond.op == "isnull" and cond.value[1]:
            values.append(list(cond.value[1]))


def statement_values(query: Select) -> dict[str, Any]:
    """The parameter values of `query`, named as `build_statement` names them."""
    values: list[Any] = []
    _collect(query.where, values)
    if query.after is not None:
        values += [v for v in query.after if v is not None]
    if query.limit is not None:
        values.append(query.limit)
    if query.skip:
        values.append(query.skip)
    return {f"p{i}": v for i, v in enumerate(values)}


def _where_shape(where: Sequence[Predicate]) -> Hashable:
    return tuple(
        (p.columns, p.table, p.remote, _where_shape(p.where))
        if isinstance(p, Related)
        else (p.column, p.op, p.value[0], bool(p.value[1]))
        if p.op == "isnull"
        else (p.column, p.op)
        for p in where
    )


def shape(query: Select) -> Hashable:
    where = _where_shape(query.where)
    after = None if query.after is None else tuple(v is None for v in query.after)
    return (
        query.table,
        query.columns,
        where,
        query.order_by,
        after,
        query.skip == 0,
        query.limit is None,
    )


class StatementCache:
    """A bounded, thread-safe LRU of statements by query shape."""

    def __init__(
        self, maxsize: int = 1024, nulls: NullOrder = "explicit", exact: Exact = same
    ) -> None:
        self.maxsize = maxsize
        self.nulls = nulls
        self.exact = exact
        self._items: OrderedDict[Hashable, sa.Select] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, table: sa.Table, query: Select, resolve: Resolve) -> sa.Select:
        key = shape(query)
        with self._lock:
            stmt = self._items.get(key)
            if stmt is not None:
                self._items.move_to_end(key)
                return stmt
        stmt = build_statement(table, query, resolve, nulls=self.nulls, exact=self.exact)
        with self._lock:
            self._items[key] = stmt
            if len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return stmt
