"""What every mode's poll is given, and what it reports."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa

from legacy_adapters.base import Source
from wrapper.events.capture import store
from wrapper.events.capture.diff import Diff
from wrapper.events.capture.emit import events
from wrapper.events.capture.unit import CaptureUnit, Rendering


@dataclass
class Report:
    """What one poll did: legacy rows fetched (aggregate rows not counted), legacy
    queries run, changes found and events appended."""

    rows_fetched: int = 0
    queries: int = 0
    changes: int = 0
    events: int = 0
    baseline: bool = False


@dataclass
class Poll:
    unit: CaptureUnit
    source: Source
    store: sa.Engine
    holder: str  # the lease holder committing
    rendering: Rendering
    ttl: float = 30.0
    clock: Callable[[], float] = time.time
    batch: int = 1000  # legacy rows per read
    report: Report = field(default_factory=Report)

    def commit(self, diff: Diff, work: store.Commit | None = None) -> None:
        """Turns the diff's changes into events and commits them with ``work``."""
        work = work or store.Commit()
        now = self.clock()
        work.writes += diff.writes
        work.events += events(self.unit, diff.changes, self.rendering, at=now)
        work.unit.setdefault("rows_fetched", self.report.rows_fetched)
        appended = store.commit(
            self.store, self.unit.name, self.unit.events.mode, self.holder, work,
            ttl=self.ttl, now=now,
        )  # fmt: skip
        self.report.changes += len(diff.changes)
        self.report.events += appended
