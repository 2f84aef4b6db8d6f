"""Compiled statements for `?`-parameter ODBC execution, one per query shape.

A plan holds what executing a query needs and nothing else: the SQL text, how
the query's values line up with the `?` markers, the SQL type each marker is
bound with (`cursor.setinputsizes`: a CHAR key is bound as CHAR, so the
database compares it with its index instead of converting the column), and
the converters some columns need (DECIMAL from a driver that returns floats).

Statements are built by `legacy_adapters.sql.statements` (the same Core
statement the SQLAlchemy adapter runs) and compiled by `OdbcDialect`. The
cache key is the query's shape plus the length of each IN list (the SQL text
has one marker per value) and, for TOP paging, the page size (written into
the text).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from legacy_adapters.base import Condition, Predicate, Related, Select, UnsupportedQuery
from legacy_adapters.odbc.catalog import SQL_CHAR, SQL_VARCHAR, SQL_WCHAR, SQL_WVARCHAR
from legacy_adapters.sql.statements import shape, statement_values

SCALAR, LIST, TUPLES = 0, 1, 2
Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class Plan:
    sql: str
    order: tuple[tuple[str, int], ...]  # parameter name and how it expands
    sizes: tuple[tuple[int] | None, ...] | None  # setinputsizes, None when nothing to say
    converters: tuple[tuple[int, Converter], ...]  # (column position, converter)

    def parameters(self, values: dict[str, Any]) -> list[Any]:
        out: list[Any] = []
        for name, kind in self.order:
            value = values[name]
            if kind == SCALAR:
                out.append(value)
            elif kind == LIST:
                out.extend(value)
            else:
                for row in value:
                    out.extend(row)
        return out

    def convert(self, rows: list[Any]) -> list[tuple[Any, ...]]:
        if not self.converters:
            return [tuple(r) for r in rows]
        result = []
        for row in rows:
            values = list(row)
            for pos, fn in self.converters:
                if values[pos] is not None:
                    values[pos] = fn(values[pos])
            result.append(tuple(values))
        return result


def odbc_type(type_: Any) -> int | None:
    """The ODBC SQL type a string parameter compared with this column is bound as."""
    if isinstance(type_, sa.NCHAR):
        return SQL_WCHAR
    if isinstance(type_, sa.CHAR):
        return SQL_CHAR
    if isinstance(type_, sa.NVARCHAR):
        return SQL_WVARCHAR
    if isinstance(type_, sa.String):
        return SQL_VARCHAR
    return None


def compile_plan(
    stmt: sa.Select, dialect: sa.engine.Dialect, values: dict[str, Any], converted: bool = True
) -> Plan:
    """Compile `stmt` and line its markers up with `values` (the query's values,
    named as `statement_values` names them)."""
    compiled = stmt.compile(dialect=dialect)
    literal = {b.key for b in compiled.literal_execute_params}
    order: list[tuple[str, int]] = []
    sizes: list[tuple[int] | None] = []
    for name in compiled.positiontup or ():
        if name in literal:
            continue
        bind = compiled.binds[name]
        if isinstance(bind.type, sa.types.TupleType):
            order.append((name, TUPLES))
            entry = [_size(t) for t in bind.type.types]
            sizes += entry * len(values[name])
        elif bind.expanding:
            order.append((name, LIST))
            sizes += [_size(bind.type)] * len(values[name])
        else:
            order.append((name, SCALAR))
            sizes.append(_size(bind.type))
    expanded = compiled.construct_expanded_state(values)
    plan = Plan(
        sql=expanded.statement,
        order=tuple(order),
        sizes=tuple(sizes) if any(sizes) else None,
        converters=_converters(stmt, dialect) if converted else (),
    )
    if list(expanded.positional_parameters) != plan.parameters(values):
        raise RuntimeError("the compiled statement's parameters are out of order")
    return plan


def _size(type_: Any) -> tuple[int] | None:
    code = odbc_type(type_)
    return None if code is None else (code,)  # the type only: the size comes from the value


def _converters(stmt: sa.Select, dialect: sa.engine.Dialect) -> tuple[tuple[int, Converter], ...]:
    result = []
    for pos, col in enumerate(stmt.selected_columns):
        fn = col.type.result_processor(dialect, None)
        if fn is not None:
            result.append((pos, fn))
    return tuple(result)


def expansion_key(values: dict[str, Any]) -> tuple[int, ...]:
    """The length of every list value: part of the SQL text, so part of the key."""
    return tuple(len(v) for v in values.values() if isinstance(v, list))


class PlanCache:
    """A bounded, thread-safe LRU of plans."""

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Plan] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Plan]) -> Plan:
        with self._lock:
            plan = self._items.get(key)
            if plan is not None:
                self._items.move_to_end(key)
                return plan
        plan = build()
        with self._lock:
            self._items[key] = plan
            if len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return plan


def query_key(query: Select, values: dict[str, Any], literal_limit: bool) -> Hashable:
    return (shape(query), expansion_key(values), query.limit if literal_limit else None)


__all__ = [
    "Plan",
    "PlanCache",
    "compile_plan",
    "expansion_key",
    "query_key",
    "shape",
    "statement_values",
]


# ---------------------------------------------------------------------- refusals


def refusal(
    where: Sequence[Predicate], *, like_escape: bool, unicode_lower: bool, row_values: bool
) -> str | None:
    """Why this source cannot run `where` faithfully, or None."""
    for pred in where:
        if isinstance(pred, Related):
            reason = refusal(
                pred.where, like_escape=like_escape, unicode_lower=unicode_lower,
                row_values=row_values,
            )  # fmt: skip
            if reason:
                return reason
            continue
        reason = _condition_refusal(pred, like_escape, unicode_lower, row_values)
        if reason:
            return reason
    return None


def _condition_refusal(
    cond: Condition, like_escape: bool, unicode_lower: bool, row_values: bool
) -> str | None:
    if isinstance(cond.column, tuple):
        return None if row_values else "this legacy database cannot compare column tuples"
    if cond.op not in ("prefix", "like", "like_rtrim") or not isinstance(cond.value, str):
        return None
    if not like_escape and "\\" in cond.value:
        return "this legacy database cannot escape % and _ in a pattern"
    if cond.op != "prefix" and not unicode_lower and _has_non_ascii_letter(cond.value):
        return "this legacy database folds the case of ASCII letters only"
    return None


def _has_non_ascii_letter(text: str) -> bool:
    return any(not ch.isascii() and ch.lower() != ch.upper() for ch in text)


def check(query: Select, *, like_escape: bool, unicode_lower: bool, row_values: bool) -> None:
    reason = refusal(
        query.where, like_escape=like_escape, unicode_lower=unicode_lower, row_values=row_values
    )
    if reason:
        raise UnsupportedQuery(reason)
