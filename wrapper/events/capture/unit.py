"""What the capture of one resource reads, and how each API version renders it.

A resource is captured once, whatever the number of versions that serve it
(from the same table): the unit reads the union of their columns, and every
version renders the row as its `GET` does, with the same compiled renderers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from legacy_adapters.base import TableRef
from wrapper.config import CaptureConfig
from wrapper.mapping.model import Mapping, Resource
from wrapper.mapping.rendering import Renderers

Row = Sequence[Any]


@dataclass(frozen=True)
class VersionView:
    """One version's resource, with the positions of its fields in a unit row."""

    resource: Resource
    names: tuple[str, ...]
    positions: tuple[int, ...]
    key_names: tuple[str, ...]
    key_positions: tuple[int, ...]
    rule_names: tuple[str, ...]  # fields that row rules compare (`previous`)
    rule_positions: tuple[int, ...]

    @property
    def version(self) -> str:
        return self.resource.version


@dataclass(frozen=True)
class CaptureUnit:
    name: str  # the resource name, also the unit's name in the state database
    source: str
    table: TableRef
    events: CaptureConfig
    columns: tuple[str, ...]  # what is read: key columns first
    key: tuple[str, ...]  # the key's legacy columns
    rule_columns: tuple[str, ...]  # legacy columns of the fields row rules compare
    views: tuple[VersionView, ...]

    @property
    def watermark_position(self) -> int:
        assert self.events.column is not None
        return self.columns.index(self.events.column)

    def key_of(self, row: Row) -> tuple[Any, ...]:
        return tuple(row[: len(self.key)])

    def rules_of(self, row: Row) -> tuple[Any, ...]:
        return tuple(row[self.columns.index(c)] for c in self.rule_columns)

    def row_from(self, key: Sequence[Any], rules: Sequence[Any] = ()) -> list[Any]:
        """A unit row holding only a key and row-rule values (the rest None)."""
        row: list[Any] = [None] * len(self.columns)
        row[: len(self.key)] = key
        for column, value in zip(self.rule_columns, rules, strict=False):
            row[self.columns.index(column)] = value
        return row


def _rule_fields(res: Resource) -> tuple[str, ...]:
    names = [f.name for f in res.fields if f.rows is not None]
    if res.through is not None:
        relation = res.relation(res.through.relation)
        names += list(relation.local) if relation else []
    return tuple(dict.fromkeys(names))


def capture_units(mapping: Mapping) -> list[CaptureUnit]:
    """Every resource declaring `events`, with every version serving it from the same table."""
    declared: dict[str, Resource] = {}
    for version in mapping.versions.values():
        for res in version.resources.values():
            if res.events is not None:
                declared.setdefault(res.name, res)
    units = []
    for name, first in declared.items():
        served = [
            res
            for version in mapping.versions.values()
            if (res := version.resources.get(name)) is not None
            and (res.source, res.table) == (first.source, first.table)
        ]
        key = first.tiebreak
        columns = list(key)
        for res in served:
            columns += [f.column for f in res.fields]
        if first.events and first.events.column:
            columns.append(first.events.column)
        columns = list(dict.fromkeys(columns))
        rules = [res.by_name[n].column for res in served for n in _rule_fields(res)]
        views = tuple(_view(res, columns) for res in served)
        assert first.events is not None
        units.append(
            CaptureUnit(
                name,
                first.source,
                first.table,
                first.events,
                tuple(columns),
                key,
                tuple(dict.fromkeys(rules)),
                views,
            )
        )
    return units


def _view(res: Resource, columns: list[str]) -> VersionView:
    def at(names: Sequence[str]) -> tuple[int, ...]:
        return tuple(columns.index(res.by_name[n].column) for n in names)

    names = tuple(f.name for f in res.fields)
    rules = _rule_fields(res)
    return VersionView(res, names, at(names), res.key, at(res.key), rules, at(rules))


class Rendering:
    """Renders unit rows per version with the read path's compiled renderers."""

    def __init__(self, renderers: Renderers | None = None) -> None:
        self.renderers = renderers or Renderers()

    def rows(self, view: VersionView, rows: Sequence[Row]) -> list[dict[str, Any]]:
        data, _failed = self.renderers.render_rows(
            view.resource, view.names, view.positions, rows, lambda row: repr(row[:1])
        )
        return data

    def part(self, view: VersionView, names: tuple[str, ...], row: Row) -> dict[str, Any]:
        """Some fields of one row (its key, its row-rule fields)."""
        positions = tuple(view.positions[view.names.index(n)] for n in names)
        return self.renderers.get(view.resource, names, positions)(row)


def subject(view: VersionView, data: dict[str, Any]) -> str:
    """The key as it appears in the resource's URLs (parts joined by commas)."""
    return ",".join(str(data[name]) for name in view.key_names)
