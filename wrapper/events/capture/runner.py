"""The capture loop: every captured resource polled at its interval, by one leader.

A runner polls the units that are due, each under its lease (`lease`): a unit
whose lease another worker holds is left to it and tried again at the next
interval, so several workers share the units and never emit twice. A legacy
source that cannot be reached is logged and tried again at the next interval.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from legacy_adapters.base import RANGE_CHECKSUMS, RangeChecksums, Source, SourceError
from wrapper.events.capture import lease
from wrapper.events.capture.poll import Poll, Report
from wrapper.events.capture.ranges import poll_ranges
from wrapper.events.capture.snapshot import poll_full
from wrapper.events.capture.unit import CaptureUnit, Rendering
from wrapper.events.capture.watermark import poll_increasing, poll_watermark

log = logging.getLogger(__name__)


def poller(unit: CaptureUnit, source: Source) -> Callable[[Poll], None]:
    """How ``unit`` is polled on ``source``."""
    if unit.events.mode == "watermark":
        return poll_watermark
    if unit.events.mode == "increasing":
        return poll_increasing
    if RANGE_CHECKSUMS in source.capabilities.extra and isinstance(source, RangeChecksums):
        return poll_ranges
    return poll_full


@dataclass
class UnitStatus:
    leading: bool = False
    polls: int = 0
    events: int = 0
    last: Report | None = None
    error: str | None = None


@dataclass
class CaptureRunner:
    units: list[CaptureUnit]
    sources: Mapping[str, Source]
    store: sa.Engine
    holder: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    )
    rendering: Rendering = field(default_factory=Rendering)
    clock: Callable[[], float] = time.time
    status: dict[str, UnitStatus] = field(default_factory=dict)

    def ttl(self, unit: CaptureUnit) -> float:
        return max(10.0, 5 * unit.events.interval)

    def poll(self, unit: CaptureUnit) -> Report | None:
        """One poll of ``unit`` if this runner leads it (None when another does)."""
        status = self.status.setdefault(unit.name, UnitStatus())
        ttl = self.ttl(unit)
        status.leading = lease.acquire(
            self.store, unit.name, self.holder, ttl=ttl, now=self.clock()
        )
        if not status.leading:
            return None
        source = self.sources[unit.source]
        work = Poll(unit, source, self.store, self.holder, self.rendering, ttl, self.clock)
        try:
            with lease.kept(self.store, unit.name, self.holder, ttl=ttl, clock=self.clock):
                poller(unit, source)(work)
        except lease.LeaseLost as err:
            status.leading, status.error = False, str(err)
            return None
        except SourceError as err:
            status.error = f"legacy source: {err}"
            log.warning("capture of %s: %s", unit.name, err)
            return None
        status.polls += 1
        status.events += work.report.events
        status.last, status.error = work.report, None
        return work.report

    def run(self, stop: threading.Event) -> None:
        """Polls every unit at its interval until ``stop`` is set; then lets the leases go."""
        due = dict.fromkeys((u.name for u in self.units), 0.0)
        try:
            while not stop.is_set():
                for unit in self.units:
                    if time.monotonic() >= due[unit.name]:
                        due[unit.name] = time.monotonic() + unit.events.interval
                        self._poll_safely(unit)
                wait = min(due.values(), default=time.monotonic() + 1) - time.monotonic()
                stop.wait(max(0.01, wait))
        finally:
            for unit in self.units:
                if self.status.get(unit.name, UnitStatus()).leading:
                    lease.release(self.store, unit.name, self.holder)

    def _poll_safely(self, unit: CaptureUnit) -> None:
        try:
            self.poll(unit)
        except sa.exc.DBAPIError as err:  # the state database: tried again next time
            self.status.setdefault(unit.name, UnitStatus()).error = f"state database: {err}"
            log.warning("capture of %s: the state database failed: %s", unit.name, err)
        except Exception as err:  # a bug or an unexpected value: logged, the loop goes on
            self.status.setdefault(unit.name, UnitStatus()).error = f"{type(err).__name__}: {err}"
            log.exception("capture of %s failed", unit.name)
