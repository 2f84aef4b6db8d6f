"""Execute and render: run a plan's selects on the resource's source and shape the
result (no planning, no legacy rules here).

One legacy query per page, plus one per expanded relation per page (never one
per row). Rows are rendered by converters compiled once per field selection;
embedded rows are matched to their parents on the rendered (modern) values of
the join fields, so CHAR padding and other storage details never decide a match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from legacy_adapters.base import Source
from wrapper.mapping.model import Field
from wrapper.mapping.rendering import Renderers
from wrapper.pagination import Cursors, next_skip
from wrapper.problems import ResourceNotFound
from wrapper.translate import ChildPlan, Plan

Row = Sequence[Any]


class Reader:
    def __init__(
        self, sources: Mapping[str, Source], cursors: Cursors, renderers: Renderers | None = None
    ) -> None:
        self.sources = sources
        self.cursors = cursors
        self.renderers = renderers or Renderers()

    def page(self, plan: Plan) -> dict[str, Any]:
        """A list page: `data`, `next_cursor` and, when asked, the counts."""
        assert plan.page_size is not None
        source = self.sources[plan.resource.source]
        rows = source.select(plan.select)
        has_more = len(rows) > plan.page_size
        rows = rows[: plan.page_size]
        data = self._render(plan, rows)
        page: dict[str, Any] = {"data": data, "next_cursor": None}
        if has_more and rows:
            page["next_cursor"] = self._next_cursor(plan, rows)
        if plan.count:
            count, exact = source.count(plan.select, estimate=plan.count == "estimate")
            page["total_count"] = count
            page["total_count_exact"] = exact
        for child in plan.children:
            self._embed(plan, child, rows, data)
        return page

    def item(self, plan: Plan, key_text: str) -> dict[str, Any]:
        rows = self.sources[plan.resource.source].select(plan.select)[:1]
        if not rows:
            raise ResourceNotFound(f"no {plan.resource.name} with key {key_text!r}")
        data = self._render(plan, rows)
        for child in plan.children:
            self._embed(plan, child, rows, data)
        return data[0]

    def _render(self, plan: Plan, rows: Sequence[Row]) -> list[dict[str, Any]]:
        layout = plan.layout
        render = self.renderers.get(plan.resource, layout.names, layout.positions)
        return [render(row) for row in rows]

    def _next_cursor(self, plan: Plan, rows: Sequence[Row]) -> str:
        positions = plan.layout.order_positions
        last = tuple(rows[-1][p] for p in positions)
        if plan.unique_order:
            return self.cursors.encode(plan.layout.cursor_print, last, 0)
        keys = [tuple(row[p] for p in positions) for row in rows]
        skip = next_skip(keys, plan.select.after, plan.select.skip)
        return self.cursors.encode(plan.layout.cursor_print, last, skip)

    def _embed(
        self, plan: Plan, child: ChildPlan, rows: Sequence[Row], data: list[dict[str, Any]]
    ) -> None:
        legacy_keys = [tuple(row[p] for p in child.local_positions) for row in rows]
        wanted = list(dict.fromkeys(k for k in legacy_keys if None not in k))
        found: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        if wanted:
            source = self.sources[child.target.source]
            render = self.renderers.get(child.target, child.names, child.positions)
            for row in source.select(child.matching(wanted)):
                key = _join_key(row, child.remote_positions, child.remote_fields)
                found.setdefault(key, []).append(render(row))
        name = child.relation.name
        for item, row in zip(data, rows, strict=True):
            rows_of = found.get(_join_key(row, child.local_positions, child.local_fields), [])
            item[name] = rows_of if child.relation.many else (rows_of[0] if rows_of else None)


def _join_key(row: Row, positions: Sequence[int], fields: Sequence[Field]) -> tuple[Any, ...]:
    """The join fields' modern values (what a client would compare)."""
    return tuple(
        _hashable(field.converter.render(row[p]))
        for p, field in zip(positions, fields, strict=True)
    )


def _hashable(value: Any) -> Any:
    return orjson.dumps(value) if isinstance(value, orjson.Fragment) else value
