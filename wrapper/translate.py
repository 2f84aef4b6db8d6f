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
from wrapper.pagination import Cursors, fingerprint
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


@dataclass(frozen=True)
class _Layout:
    """Where things sit in the result rows of one (fields, sort, expand) shape."""

    names: tuple[str, ...]
    columns: tuple[str, ...]
    positions: tuple[int, ...]
    order: tuple[Order, ...]
    order_positions: tuple[int, ...]
    cursor_print: str


_LAYOUTS_PER_RESOURCE = 1024


def _layout(
    resource: Resource,
    fields: tuple[str, ...] | None,
    sort: tuple[tuple[str, bool], ...],
    expand: tuple[str, ...],
    with_order: bool = True,
) -> _Layout:
    """Computed once per shape and kept on the resource (bounded)."""
    key = (fields, sort, expand, with_order)
    cache = resource.layouts
    layout = cache.get(key)
    if layout is not None:
        return layout
    names = fields or tuple(f.name for f in resource.fields)
    cols = _Columns()
    positions = tuple(cols.add(resource.by_name[n].column) for n in names)
    order: list[Order] = []
    if with_order:
        order = [Order(resource.by_name[name].column, desc) for name, desc in sort]
        seen = {o.column for o in order}
        order += [Order(c) for c in resource.tiebreak if c not in seen]
    order_positions = tuple(cols.add(o.column) for o in order)
    for rel_name in expand:  # the local columns that embedding joins on
        rel = resource.relation(rel_name)
        assert rel is not None
        for local in rel.local:
            cols.add(resource.by_name[local].column)
    print_ = fingerprint(
        f"{resource.version}/{resource.name}", [(o.column, o.descending) for o in order]
    )
    layout = _Layout(names, tuple(cols.names), positions, tuple(order), order_positions, print_)
    if len(cache) < _LAYOUTS_PER_RESOURCE:
        cache[key] = layout
    return layout


def plan_list(
    resource: Resource,
    query: Query,
    cursors: Cursors,
    *,
    extra_where: tuple[Condition, ...] = (),
    column_types: dict[str, str] | None = None,
) -> Plan:
    layout = _layout(resource, query.fields, query.sort, query.expand)
    where: list[Condition] = list(extra_where)
    for flt in query.filters:
        where.extend(translate_filter(resource, flt))
    after, skip = None, 0
    if query.cursor is not None:
        after, skip = cursors.decode(query.cursor, layout.cursor_print, len(layout.order))
        if column_types:
            _check_cursor_types(after, [o.column for o in layout.order], column_types)
        if resource.unique_tiebreak and skip:
            raise InvalidParameter("cursor", "cursor is not valid; use next_cursor as given")
    select = Select(
        table=resource.table,
        columns=layout.columns,
        where=tuple(where),
        order_by=layout.order,
        after=after,
        skip=skip,
        limit=query.limit + 1,  # one more tells whether there is a next page
    )
    return Plan(
        select,
        layout.names,
        layout.positions,
        layout.order_positions,
        layout.cursor_print,
        resource.unique_tiebreak,
    )


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
    layout = _layout(resource, fields, (), expand, with_order=False)
    select = Select(
        table=resource.table,
        columns=layout.columns,
        where=(*extra_where, *key_conditions(resource, key_text)),
        limit=2,
    )
    return Plan(select, layout.names, layout.positions, (), "", True)
