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
from wrapper.mapping.rendering import KeyOf, Renderers
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

    def page(self, plan: Plan) -> tuple[dict[str, Any], tuple[str, ...]]:
        """A list page (`data`, `next_cursor` and, when asked, the counts) and the
        fields with values that could not be rendered (served as null)."""
        assert plan.page_size is not None
        source = self.sources[plan.resource.source]
        rows = source.select(plan.select)
        has_more = len(rows) > plan.page_size
        rows = rows[: plan.page_size]
        data, failed = self._render(plan, rows)
        page: dict[str, Any] = {"data": data, "next_cursor": None}
        if has_more and rows:
            page["next_cursor"] = self._next_cursor(plan, rows)
        if plan.count:
            count, exact = source.count(plan.select, estimate=plan.count == "estimate")
            page["total_count"] = count
            page["total_count_exact"] = exact
        for child in plan.children:
            failed += self._embed(plan, child, rows, data)
        return page, failed

    def item(self, plan: Plan, key_text: str) -> tuple[dict[str, Any], tuple[str, ...]]:
        rows = self.sources[plan.resource.source].select(plan.select)[:1]
        if not rows:
            raise ResourceNotFound(f"no {plan.resource.name} with key {key_text!r}")
        data, failed = self._render(plan, rows, lambda _row: repr(key_text))
        for child in plan.children:
            failed += self._embed(plan, child, rows, data)
        return data[0], failed

    def _render(
        self, plan: Plan, rows: Sequence[Row], key_of: KeyOf | None = None
    ) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        layout = plan.layout
        return self.renderers.render_rows(
            plan.resource, layout.names, layout.positions, rows, key_of or _key_of(plan)
        )

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
    ) -> tuple[str, ...]:
        """Embed the related rows; returns the embedded fields that could not be rendered."""
        legacy_keys = [tuple(row[p] for p in child.local_positions) for row in rows]
        wanted = list(dict.fromkeys(k for k in legacy_keys if None not in k))
        found: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        failed: tuple[str, ...] = ()
        name = child.relation.name
        if wanted:
            source = self.sources[child.target.source]
            children = source.select(child.matching(wanted))
            rendered, failed = self.renderers.render_rows(
                child.target,
                child.names,
                child.positions,
                children,
                lambda row: repr(tuple(row[p] for p in child.remote_positions)),
            )
            for row, item in zip(children, rendered, strict=True):
                key = _join_key(row, child.remote_positions, child.remote_fields)
                found.setdefault(key, []).append(item)
        for item, row in zip(data, rows, strict=True):
            rows_of = found.get(_join_key(row, child.local_positions, child.local_fields), [])
            item[name] = rows_of if child.relation.many else (rows_of[0] if rows_of else None)
        return tuple(f"{name}.{field}" for field in failed)


def _join_key(row: Row, positions: Sequence[int], fields: Sequence[Field]) -> tuple[Any, ...]:
    """The join fields' modern values (what a client would compare)."""
    return tuple(_modern(field, row[p]) for p, field in zip(positions, fields, strict=True))


def _modern(field: Field, value: Any) -> Any:
    try:
        return _hashable(field.converter.render(value))
    except Exception:  # unrenderable: match on the legacy value itself
        return ("legacy", repr(value))


def _key_of(plan: Plan) -> KeyOf:
    """How a list row names itself in the log: its key (or its paging columns)."""
    layout = plan.layout
    columns = plan.resource.tiebreak
    positions = [layout.columns.index(c) for c in columns if c in layout.columns]
    return lambda row: repr(tuple(row[p] for p in positions))


def _hashable(value: Any) -> Any:
    return orjson.dumps(value) if isinstance(value, orjson.Fragment) else value
