"""Rows read from the legacy table against what capture saw of them before.

A row's state is the hash of each of its columns (`values.column_hashes`), the
number of changes captured for its key and the values its row rules compare.
Comparing gives the changes (created, updated with the columns that changed,
deleted) and the state to write; rows read again unchanged (an overlap window
re-reading, an unchanged range) give nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wrapper.events.capture.unit import CaptureUnit, Row
from wrapper.events.capture.values import changed_columns, column_hashes, pack, unpack


@dataclass(frozen=True)
class Stored:
    hashes: str | None  # None: a deleted row (tombstone)
    changes: int
    rules: str | None
    node: str | None = None


@dataclass(frozen=True)
class Change:
    action: str  # created, updated, deleted
    key: tuple[Any, ...]
    packed_key: str
    number: int  # the key's count of changes, this one included (event ids use it)
    row: Row | None  # the row now; None when deleted
    changed: tuple[str, ...] = ()  # legacy columns an update changed
    before: tuple[Any, ...] | None = None  # row-rule values before the change


@dataclass
class Diff:
    changes: list[Change] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)  # lw_capture_rows values


def compare(
    unit: CaptureUnit,
    rows: Iterable[Row],
    stored: Mapping[str, Stored],
    *,
    node: str | Callable[[str], str | None] | None = None,
    complete: bool = False,
    baseline: bool = False,
) -> Diff:
    """``stored`` holds (at least) the state of the keys in ``rows``. ``complete``:
    the rows are all there is where ``stored`` was read (a range, the whole table),
    so stored rows not read again were deleted. ``baseline``: record, emit nothing.
    ``node``: the range-tree leaf of the rows (or a function of the packed key)."""
    node_of = node if callable(node) else (lambda _key: node)
    diff = Diff()
    seen: set[str] = set()
    for row in rows:
        key = unit.key_of(row)
        packed = pack(key)
        seen.add(packed)
        hashes = column_hashes(row)
        before = stored.get(packed)
        leaf = node_of(packed)
        if before is not None and before.hashes == hashes:
            if before.node != leaf and leaf is not None:
                diff.writes.append(_state(unit, packed, leaf, hashes, before.changes, row))
            continue
        number = (before.changes if before else 0) + (0 if baseline else 1)
        diff.writes.append(_state(unit, packed, leaf, hashes, number, row))
        if baseline:
            continue
        if before is None or before.hashes is None:
            diff.changes.append(Change("created", key, packed, number, row))
        else:
            changed = changed_columns(before.hashes, hashes, unit.columns)
            diff.changes.append(
                Change("updated", key, packed, number, row, changed, _rules(before))
            )
    if complete:
        for packed, before in stored.items():
            if packed in seen or before.hashes is None:
                continue
            number = before.changes + 1
            diff.writes.append(
                {"unit": unit.name, "key": packed, "node": before.node, "hashes": None,
                 "changes": number, "rules": before.rules}
            )  # fmt: skip
            if not baseline:
                diff.changes.append(
                    Change("deleted", unpack(packed), packed, number, None, (), _rules(before))
                )
    return diff


def _rules(stored: Stored) -> tuple[Any, ...] | None:
    return unpack(stored.rules) if stored.rules is not None else None


def _state(
    unit: CaptureUnit, packed: str, node: str | None, hashes: str, number: int, row: Row
) -> dict[str, Any]:
    rules = pack(unit.rules_of(row)) if unit.rule_columns else None
    return {"unit": unit.name, "key": packed, "node": node, "hashes": hashes,
            "changes": number, "rules": rules}  # fmt: skip
