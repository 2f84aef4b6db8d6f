"""Execute and render: run a translated plan on the source and shape the result.

One legacy query per page, plus one per expanded relation per page (never one
per row). Rows are rendered by converters compiled once per resource.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from legacy_adapters.base import Condition, Order, Schema, Select, Source
from wrapper.access import EVERYTHING, Access
from wrapper.mapping.model import Mapping, Resource
from wrapper.pagination import Cursors, next_skip
from wrapper.problems import ResourceNotFound
from wrapper.query import Query
from wrapper.translate import Plan, plan_item, plan_list


class Reader:
    """Reads resources of one mapping from one source."""

    def __init__(self, source: Source, mapping: Mapping, schema: Schema, cursors: Cursors) -> None:
        self.source = source
        self.mapping = mapping
        self.cursors = cursors
        self.column_types = {
            t.ref: {c.name: c.python_type for c in t.columns} for t in schema.tables
        }

    def list(self, resource: Resource, query: Query, access: Access = EVERYTHING) -> dict[str, Any]:
        """A page; `resource` is the caller's view of it (`access.view`)."""
        plan = plan_list(
            resource,
            query,
            self.cursors,
            extra_where=access.conditions(resource),
            column_types=self.column_types.get(resource.table),
        )
        rows = self.source.select(plan.select)
        has_more = len(rows) > query.limit
        rows = rows[: query.limit]
        render = resource.renderer(plan.field_names, plan.field_positions)
        data = [render(row) for row in rows]
        page: dict[str, Any] = {"data": data, "next_cursor": None}
        if has_more and rows:
            page["next_cursor"] = self._next_cursor(plan, rows)
        if query.count:
            count, exact = self.source.count(plan.select, estimate=query.count == "estimate")
            page["total_count"] = count
            page["total_count_exact"] = exact
        for name in query.expand:
            self._expand(resource, name, plan, rows, data, access)
        return page

    def item(
        self,
        resource: Resource,
        key_text: str,
        fields: tuple[str, ...] | None,
        expand: tuple[str, ...],
        access: Access = EVERYTHING,
    ) -> dict[str, Any]:
        plan = plan_item(resource, fields, key_text, expand, access.conditions(resource))
        rows = self.source.select(plan.select)
        if not rows:
            raise ResourceNotFound(f"no {resource.name} with key {key_text!r}")
        rows = rows[:1]
        data = [resource.renderer(plan.field_names, plan.field_positions)(rows[0])]
        for name in expand:
            self._expand(resource, name, plan, rows, data, access)
        return data[0]

    def _next_cursor(self, plan: Plan, rows: Sequence[tuple[Any, ...]]) -> str:
        positions = plan.order_positions
        last = tuple(rows[-1][p] for p in positions)
        if plan.unique_order:
            return self.cursors.encode(plan.cursor_print, last, 0)
        keys = [tuple(row[p] for p in positions) for row in rows]
        skip = next_skip(keys, plan.select.after, plan.select.skip)
        return self.cursors.encode(plan.cursor_print, last, skip)

    def _expand(
        self,
        resource: Resource,
        name: str,
        plan: Plan,
        rows: Sequence[tuple[Any, ...]],
        data: list[dict[str, Any]],
        access: Access,
    ) -> None:
        relation = resource.relation(name)
        target = self.mapping.resource(resource.version, relation.target) if relation else None
        assert relation is not None and target is not None
        shown = access.view(target)  # the join may use fields the caller cannot see
        local_pos = [plan.position(resource.by_name[f].column) for f in relation.local]
        parent_keys = [tuple(row[p] for p in local_pos) for row in rows]
        wanted = list(dict.fromkeys(k for k in parent_keys if None not in k))
        children: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        if wanted:
            names = tuple(f.name for f in shown.fields)
            columns = list(dict.fromkeys(f.column for f in shown.fields))
            remote_cols = [target.by_name[f].column for f in relation.remote]
            columns += [c for c in remote_cols if c not in columns]
            if len(remote_cols) == 1:
                match = Condition(remote_cols[0], "in", tuple(k[0] for k in wanted))
            else:
                match = Condition(tuple(remote_cols), "in", tuple(wanted))
            select = Select(
                table=target.table,
                columns=tuple(columns),
                where=(*access.conditions(target), match),
                order_by=tuple(Order(c) for c in target.tiebreak),
            )
            render = shown.renderer(names, tuple(columns.index(f.column) for f in shown.fields))
            remote_pos = [columns.index(c) for c in remote_cols]
            for row in self.source.select(select):
                key = _group_key(tuple(row[p] for p in remote_pos))
                children.setdefault(key, []).append(render(row))
        for item, key in zip(data, parent_keys, strict=True):
            found = children.get(_group_key(key), [])
            item[name] = found if relation.many else (found[0] if found else None)


def _group_key(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Join keys compare as the database compares CHAR: without pad spaces."""
    return tuple(v.rstrip(" ") if isinstance(v, str) else v for v in values)
