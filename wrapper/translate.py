"""Plan step: a modern `Query` + the caller's `Access` -> a tree of legacy `Select`s
(pure, no I/O).

Values are converted to their legacy representation by each field's converter
(`"running"` -> `'RN'`, `2026-01-01` -> `20260101`) through the operators
registry, so that filtering, sorting and paging happen in the legacy
database, on its indexes; nothing is filtered, sorted or paged in Python
after fetching. Row rules are translated exactly like filters; a rule that
follows a relation becomes a semi-join (`Related`). Each `expand` gets a
child plan, run once per page with the page's join keys.

The `Planner` keeps the only cache of this step: the row layout of each query
shape (fields, sort, expand), in a bounded LRU.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from legacy_adapters.base import Condition, Order, Predicate, Related, Select
from wrapper.access import EVERYTHING, Access
from wrapper.lru import LRU
from wrapper.mapping.converters import ConversionError
from wrapper.mapping.model import Field, Mapping, Relation, Resource
from wrapper.operators import KEEPS_SENTINELS, OPERATORS
from wrapper.pagination import Cursors, fingerprint
from wrapper.problems import Forbidden, InvalidParameter, ResourceNotFound
from wrapper.query import Filter, ItemQuery, Query


@dataclass(frozen=True)
class Layout:
    """Where things sit in the result rows of one (fields, sort, expand) shape."""

    names: tuple[str, ...]
    columns: tuple[str, ...]
    positions: tuple[int, ...]
    order: tuple[Order, ...]
    order_positions: tuple[int, ...]
    cursor_print: str

    def position(self, column: str) -> int:
        return self.columns.index(column)


@dataclass(frozen=True)
class ChildPlan:
    """One `expand`: the target rows whose `remote` fields match a parent's `local` ones."""

    relation: Relation
    target: Resource  # the caller's view of the related resource
    select: Select  # every child row the caller may see, before the match on join keys
    names: tuple[str, ...]  # the target fields rendered, at `positions` in its rows
    positions: tuple[int, ...]
    remote_columns: tuple[str, ...]
    local_positions: tuple[int, ...]  # the join key in the parent's rows
    local_fields: tuple[Field, ...]
    remote_positions: tuple[int, ...]  # the join key in the child rows
    remote_fields: tuple[Field, ...]

    def matching(self, keys: Sequence[tuple[Any, ...]]) -> Select:
        """The select for the children of parents with these (legacy) join keys."""
        if len(self.remote_columns) == 1:
            match = Condition(self.remote_columns[0], "in", tuple(k[0] for k in keys))
        else:
            match = Condition(self.remote_columns, "in", tuple(keys))
        return replace(self.select, where=(*self.select.where, match))


@dataclass(frozen=True)
class Plan:
    resource: Resource  # the caller's view
    select: Select
    layout: Layout
    unique_order: bool
    page_size: int | None  # lists: rows a page shows (the select asks for one more)
    children: tuple[ChildPlan, ...] = ()
    count: str | None = None


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "decimal": (Decimal, int, float),
    "bytes": (bytes,),
    # Zero dates (`0000-00-00`) come back as text; a MySQL TIME as a timedelta;
    # SQLite returns what the application stored (`25/11/2026`, Unix seconds, 't').
    "date": (dt.date, str, int, float),
    "datetime": (dt.datetime, str, int, float),
    "time": (dt.time, dt.timedelta, str, int, float),
    "bool": (bool, int, str),
}


class Planner:
    """Plans reads of one mapping; `column_types` (legacy python types per table and
    column) let it refuse a cursor whose values do not fit the columns."""

    def __init__(
        self,
        mapping: Mapping,
        cursors: Cursors,
        column_types: dict[Any, dict[str, str]] | None = None,
        *,
        layouts: int = 4096,
    ) -> None:
        self.mapping = mapping
        self.cursors = cursors
        self.column_types = column_types or {}
        self._layouts: LRU[tuple[Any, ...], Layout] = LRU(layouts)

    # ------------------------------------------------------------------ plans

    def plan_list(self, resource: Resource, query: Query, access: Access = EVERYTHING) -> Plan:
        """`resource` is the caller's view of it (`access.view`)."""
        layout = self.layout(resource, query.fields, query.sort, query.expand)
        where = [*self.row_rules(resource, access)]
        for flt in query.filters:
            where += translate_filter(resource, flt)
        after, skip = None, 0
        if query.cursor is not None:
            after, skip = self.cursors.decode(query.cursor, layout.cursor_print, len(layout.order))
            self._check_cursor_types(resource, after, layout)
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
        children = self._children(resource, layout, query.expand, access)
        return Plan(
            resource, select, layout, resource.unique_tiebreak, query.limit, children, query.count
        )

    def plan_item(
        self, resource: Resource, key_text: str, query: ItemQuery, access: Access = EVERYTHING
    ) -> Plan:
        """One row by key: no order, no cursor."""
        layout = self.layout(resource, query.fields, (), query.expand, with_order=False)
        select = Select(
            table=resource.table,
            columns=layout.columns,
            where=(*self.row_rules(resource, access), *key_conditions(resource, key_text)),
            limit=2,
        )
        children = self._children(resource, layout, query.expand, access)
        return Plan(resource, select, layout, True, None, children)

    def row_rules(self, resource: Resource, access: Access) -> tuple[Predicate, ...]:
        """The caller's row rules on `resource` as legacy predicates (over the whole
        resource: a rule may use a field the caller does not see)."""
        full = self._full(resource)
        predicates: list[Predicate] = []
        for rule in access.filters(full):
            op = "eq" if len(rule.values) == 1 else "in"
            try:
                predicates += translate_filter(
                    full, Filter(rule.field, op, rule.values, rule.claim)
                )
            except InvalidParameter:
                raise Forbidden(f"the {rule.claim!r} claim does not fit {full.name}") from None
        if access.follows(full):
            assert full.through is not None
            relation = full.relation(full.through.relation)
            assert relation is not None
            target = self._full_target(full, relation)
            predicates.append(
                Related(
                    columns=tuple(full.by_name[f].column for f in relation.local),
                    table=target.table,
                    remote=tuple(target.by_name[f].column for f in relation.remote),
                    where=self.row_rules(target, access),
                )
            )
        return tuple(predicates)

    # ------------------------------------------------------------------ layouts

    def layout(
        self,
        resource: Resource,
        fields: tuple[str, ...] | None,
        sort: tuple[tuple[str, bool], ...],
        expand: tuple[str, ...],
        with_order: bool = True,
    ) -> Layout:
        """Computed once per shape and kept (bounded)."""
        key = (resource.shape_key, fields, sort, expand, with_order)
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts.put(key, _layout(resource, fields, sort, expand, with_order))
        return layout

    # ------------------------------------------------------------------ helpers

    def _children(
        self, resource: Resource, layout: Layout, expand: tuple[str, ...], access: Access
    ) -> tuple[ChildPlan, ...]:
        children = []
        full = self._full(resource)
        for name in expand:
            relation = resource.relation(name)
            assert relation is not None  # parse checked it against the caller's view
            target = access.view(self._full_target(resource, relation))
            full_target = self._full_target(resource, relation)
            names = tuple(f.name for f in target.fields)
            columns = list(dict.fromkeys(f.column for f in target.fields))
            remote = tuple(full_target.by_name[f].column for f in relation.remote)
            columns += [c for c in remote if c not in columns]
            select = Select(
                table=target.table,
                columns=tuple(columns),
                where=self.row_rules(target, access),
                order_by=tuple(Order(c) for c in target.tiebreak),
            )
            positions = tuple(columns.index(f.column) for f in target.fields)
            local = tuple(full.by_name[f] for f in relation.local)
            children.append(
                ChildPlan(
                    relation,
                    target,
                    select,
                    names,
                    positions,
                    remote,
                    tuple(layout.position(f.column) for f in local),
                    local,
                    tuple(columns.index(c) for c in remote),
                    tuple(full_target.by_name[f] for f in relation.remote),
                )
            )
        return tuple(children)

    def _full(self, resource: Resource) -> Resource:
        found = self.mapping.resource(resource.version, resource.name)
        assert found is not None
        return found

    def _full_target(self, resource: Resource, relation: Relation) -> Resource:
        found = self.mapping.resource(resource.version, relation.target)
        assert found is not None
        return found

    def _check_cursor_types(
        self, resource: Resource, values: tuple[Any, ...], layout: Layout
    ) -> None:
        types = self.column_types.get(resource.table)
        if not types:
            return
        for value, order in zip(values, layout.order, strict=True):
            allowed = _PY_TYPES.get(types.get(order.column, ""))
            if value is not None and allowed and not isinstance(value, allowed):
                raise InvalidParameter("cursor", "cursor is not valid; use next_cursor as given")


def translate_filter(resource: Resource, flt: Filter) -> list[Condition]:
    """A filter as legacy conditions, through the operators registry."""
    field = resource.by_name[flt.field]
    operator = OPERATORS[flt.op]
    values: Sequence[Any] = flt.values
    if operator.converts:
        legacy: list[Any] = []
        for text in flt.values:
            try:
                legacy.extend(field.converter.parse(text))
            except ConversionError as err:
                raise InvalidParameter(flt.parameter, f"{text!r} {err}") from None
        values = legacy
    try:
        conditions = operator.plan(field, values)
    except ValueError as err:
        raise InvalidParameter(flt.parameter, f"{flt.op}: {err}") from None
    # Comparisons never match "no value": keep legacy sentinels (a date of 0) out.
    if flt.op not in KEEPS_SENTINELS and field.converter.null_values:
        conditions.append(Condition(field.column, "not_in", field.converter.null_values))
    return conditions


class _Columns:
    """Collects the legacy columns a Select needs, each once."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add(self, column: str) -> int:
        if column not in self.names:
            self.names.append(column)
        return self.names.index(column)


def _layout(
    resource: Resource,
    fields: tuple[str, ...] | None,
    sort: tuple[tuple[str, bool], ...],
    expand: tuple[str, ...],
    with_order: bool,
) -> Layout:
    names = fields or tuple(f.name for f in resource.fields)
    cols = _Columns()
    positions = tuple(cols.add(resource.by_name[n].column) for n in names)
    order: list[Order] = []
    if with_order:
        order = [Order(resource.by_name[name].column, desc) for name, desc in sort]
        seen = {o.column for o in order}
        # The tiebreak runs the way the last sort does: an index on (sort, key)
        # read backwards serves `sort=-due_date` without a sort step.
        backwards = bool(order) and order[-1].descending
        order += [Order(c, backwards) for c in resource.tiebreak if c not in seen]
    order_positions = tuple(cols.add(o.column) for o in order)
    for rel_name in expand:  # the local columns that embedding joins on
        rel = resource.relation(rel_name)
        assert rel is not None
        for local in rel.local:
            cols.add(resource.by_name[local].column)
    print_ = fingerprint(
        f"{resource.version}/{resource.name}", [(o.column, o.descending) for o in order]
    )
    return Layout(names, tuple(cols.names), positions, tuple(order), order_positions, print_)


def key_conditions(resource: Resource, key_text: str) -> tuple[Condition, ...]:
    """`/orders/O000000001` or `/order_lines/O000000001,2` -> legacy equality conditions.

    A key of one field is the whole text (it may hold commas and slashes); the
    parts of a composite key are separated by commas. A value that the key's
    column cannot hold (out of range, not a number, too long) names no row: 404."""
    parts = [key_text] if len(resource.key) == 1 else key_text.split(",")
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
