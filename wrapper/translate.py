"""Translate step: a modern `Query` + a `Resource` -> a legacy `Select` (pure, no I/O).

Values are converted to their legacy representation by each field's converter
(`"running"` -> `'RN'`, `2026-01-01` -> `20260101`) so that filtering, sorting
and paging happen in the legacy database, on its indexes. Nothing is filtered,
sorted or paged in Python after fetching.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from legacy_adapters.base import Condition, Order, Select
from wrapper.mapping.converters import ConversionError, StringConverter
from wrapper.mapping.model import Field, Resource
from wrapper.pagination import decode_cursor, fingerprint
from wrapper.problems import InvalidParameter, ResourceNotFound
from wrapper.query import Filter, Query


@dataclass(frozen=True)
class Plan:
    """A legacy Select plus where each modern field sits in its result rows."""

    select: Select
    field_names: tuple[str, ...]
    field_positions: tuple[int, ...]
    order_positions: tuple[int, ...]
    cursor_print: str
    unique_order: bool

    def position(self, column: str) -> int:
        return self.select.columns.index(column)


class _Columns:
    """Collects the legacy columns a Select needs, each once."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add(self, column: str) -> int:
        if column not in self.names:
            self.names.append(column)
        return self.names.index(column)


def translate_filter(resource: Resource, flt: Filter) -> list[Condition]:
    field = resource.by_name[flt.field]
    conv = field.converter
    column = field.column
    if flt.op == "isnull":
        return [Condition(column, "isnull", (flt.values[0] == "true", conv.null_values))]
    if flt.op in ("like", "startswith"):
        return [_like(field, flt)]
    legacy: list[Any] = []
    for text in flt.values:
        try:
            legacy.extend(conv.parse(text))
        except ConversionError as err:
            raise InvalidParameter(flt.parameter, f"{text!r} {err}") from None
    conditions: list[Condition] = []
    if flt.op == "eq":
        conditions.append(
            Condition(column, "eq", legacy[0])
            if len(legacy) == 1
            else Condition(column, "in", tuple(legacy))
        )
    elif flt.op == "in":
        conditions.append(Condition(column, "in", tuple(dict.fromkeys(legacy))))
    elif flt.op == "ne":
        conditions.append(
            Condition(column, "ne", legacy[0])
            if len(legacy) == 1
            else Condition(column, "not_in", tuple(legacy))
        )
    else:
        if len(legacy) != 1:
            raise InvalidParameter(flt.parameter, f"{flt.op} needs a single value")
        conditions.append(Condition(column, flt.op, legacy[0]))
    # Comparisons never match "no value": keep legacy sentinels (a date of 0) out.
    if flt.op != "eq" and flt.op != "in" and conv.null_values:
        conditions.append(Condition(column, "not_in", conv.null_values))
    return conditions


def _like(field: Field, flt: Filter) -> Condition:
    """`startswith` compares as the legacy collation does (and can use an index);
    `like` is case-insensitive on every backend, `*` matching any run of characters."""
    text = flt.values[0]
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if flt.op == "startswith":
        return Condition(field.column, "prefix", escaped + "%")
    pattern = escaped.replace("*", "%")
    conv = field.converter
    if isinstance(conv, StringConverter) and conv.fixed_length and not pattern.endswith("%"):
        # CHAR(n) values carry trailing pad spaces on some databases.
        return Condition(field.column, "like_rtrim", pattern)
    return Condition(field.column, "like", pattern)


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "decimal": (Decimal, int, float),
    "bytes": (bytes,),
    "date": (dt.date,),
    "datetime": (dt.datetime,),
    "time": (dt.time,),
    "bool": (bool, int),
}


def _selected(
    resource: Resource, fields: tuple[str, ...] | None
) -> tuple[tuple[str, ...], _Columns, tuple[int, ...]]:
    names = fields or tuple(f.name for f in resource.fields)
    cols = _Columns()
    return names, cols, tuple(cols.add(resource.by_name[n].column) for n in names)


def _add_join_columns(resource: Resource, expand: tuple[str, ...], cols: _Columns) -> None:
    """The local columns that embedding these relations joins on."""
    for rel_name in expand:
        rel = resource.relation(rel_name)
        assert rel is not None
        for local in rel.local:
            cols.add(resource.by_name[local].column)


def plan_list(
    resource: Resource,
    query: Query,
    *,
    extra_where: tuple[Condition, ...] = (),
    column_types: dict[str, str] | None = None,
) -> Plan:
    names, cols, positions = _selected(resource, query.fields)
    order: list[Order] = []
    for name, descending in query.sort:
        order.append(Order(resource.by_name[name].column, descending))
    seen = {o.column for o in order}
    order += [Order(c) for c in resource.tiebreak if c not in seen]
    order_positions = tuple(cols.add(o.column) for o in order)
    _add_join_columns(resource, query.expand, cols)
    where: list[Condition] = list(extra_where)
    for flt in query.filters:
        where.extend(translate_filter(resource, flt))
    print_ = fingerprint(
        f"{resource.version}/{resource.name}", [(o.column, o.descending) for o in order]
    )
    after, skip = None, 0
    if query.cursor is not None:
        after, skip = decode_cursor(query.cursor, print_, len(order))
        if column_types:
            _check_cursor_types(after, [o.column for o in order], column_types)
        if resource.unique_tiebreak and skip:
            raise InvalidParameter("cursor", "cursor is not valid; use next_cursor as given")
    select = Select(
        table=resource.table,
        columns=tuple(cols.names),
        where=tuple(where),
        order_by=tuple(order),
        after=after,
        skip=skip,
        limit=query.limit + 1,  # one more tells whether there is a next page
    )
    return Plan(select, names, positions, order_positions, print_, resource.unique_tiebreak)


def _check_cursor_types(values: tuple[Any, ...], columns: list[str], types: dict[str, str]) -> None:
    for value, column in zip(values, columns, strict=True):
        allowed = _PY_TYPES.get(types.get(column, ""))
        if value is not None and allowed and not isinstance(value, allowed):
            raise InvalidParameter("cursor", "cursor is not valid; use next_cursor as given")


def key_conditions(resource: Resource, key_text: str) -> tuple[Condition, ...]:
    """`/orders/O000000001` or `/order_lines/O000000001,2` -> legacy equality conditions."""
    parts = key_text.split(",")
    if len(parts) != len(resource.key):
        form = ",".join("{" + k + "}" for k in resource.key)
        raise InvalidParameter("key", f"the key of {resource.name} has the form {form}")
    conditions = []
    for name, text in zip(resource.key, parts, strict=True):
        field = resource.by_name[name]
        try:
            legacy = field.converter.parse(text)
        except ConversionError:
            raise ResourceNotFound(f"no {resource.name} with key {key_text!r}") from None
        if len(legacy) == 1:
            conditions.append(Condition(field.column, "eq", legacy[0]))
        else:
            conditions.append(Condition(field.column, "in", legacy))
    return tuple(conditions)


def plan_item(
    resource: Resource,
    fields: tuple[str, ...] | None,
    key_text: str,
    expand: tuple[str, ...] = (),
    extra_where: tuple[Condition, ...] = (),
) -> Plan:
    """One row by key: no order, no cursor."""
    names, cols, positions = _selected(resource, fields)
    _add_join_columns(resource, expand, cols)
    select = Select(
        table=resource.table,
        columns=tuple(cols.names),
        where=(*extra_where, *key_conditions(resource, key_text)),
        limit=2,
    )
    return Plan(select, names, positions, (), "", True)
