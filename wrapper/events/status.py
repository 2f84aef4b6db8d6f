"""`legacy-wrapper events status`: capture lag, outbox backlog, failing endpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from wrapper.events.capture.tables import units
from wrapper.events.capture.values import unpack
from wrapper.events.delivery_log import backlog
from wrapper.events.tables import outbox, subscriptions


@dataclass(frozen=True)
class CaptureLag:
    resource: str
    mode: str
    lag: float | None  # seconds since the last completed poll; None: never polled
    watermark: str | None
    changed_at: float | None


def capture_lags(engine: sa.Engine, *, now: float) -> list[CaptureLag]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(units).order_by(units.c.unit)).all()
    return [
        CaptureLag(
            r.unit,
            r.mode,
            None if r.polled_at is None else max(0.0, now - r.polled_at),
            None if r.watermark is None else str(unpack(r.watermark)[0]),
            r.changed_at,
        )
        for r in rows
    ]


def report(engine: sa.Engine, now: float | None = None) -> list[str]:
    """The status as lines of text."""
    now = time.time() if now is None else now
    lines = ["capture:"]
    lags = capture_lags(engine, now=now)
    for lag in lags:
        seconds = "never polled" if lag.lag is None else f"lag {lag.lag:.1f} s"
        mark = f", watermark {lag.watermark}" if lag.watermark is not None else ""
        lines.append(f"  {lag.resource} ({lag.mode}): {seconds}{mark}")
    if not lags:
        lines.append("  no resource captured yet (declare `events:` and run the worker)")
    with engine.connect() as conn:
        waiting = conn.execute(
            sa.select(sa.func.count()).where(outbox.c.dispatched_at.is_(None))
        ).scalar()
        failing = conn.execute(
            sa.select(subscriptions.c.id, subscriptions.c.url, subscriptions.c.failing_since)
            .where(subscriptions.c.active, subscriptions.c.failing_since.is_not(None))
            .order_by(subscriptions.c.failing_since)
        ).all()
    queue = backlog(engine, now=now)
    oldest = "" if queue.oldest_open_at is None else f", oldest {now - queue.oldest_open_at:.0f} s"
    lines.append(f"outbox: {waiting} events not yet dispatched")
    lines.append(f"deliveries: {queue.open} open ({queue.due} due{oldest}), {queue.dead} dead")
    lines.append(f"failing endpoints: {len(failing)}")
    lines += [f"  {f.id} {f.url}: failing for {now - f.failing_since:.0f} s" for f in failing]
    lines.append(f"disabled endpoints: {len(queue.disabled)}")
    lines += [f"  {sid}: {reason or 'disabled'}" for sid, reason in queue.disabled]
    return lines
