"""What happened to a subscription's deliveries, and the queue as a whole."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from wrapper.events.tables import DEAD, OPEN, attempts, deliveries, subscriptions


@dataclass(frozen=True)
class Attempt:
    at: float
    status_code: int | None
    latency_ms: int
    error: str | None


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    event_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: float | None  # only while open
    created_at: float
    completed_at: float | None
    last_status_code: int | None
    last_error: str | None
    log: tuple[Attempt, ...]


def delivery_log(
    engine: sa.Engine,
    subscription_id: str,
    *,
    status: str | None = None,
    event_id: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[DeliveryRecord]:
    """The newest deliveries first, each with its attempts (oldest first); page on
    with ``before`` set to the last id of the previous page."""
    d = deliveries
    query = sa.select(d).where(d.c.subscription_id == subscription_id)
    if status is not None:
        query = query.where(d.c.status == status)
    if event_id is not None:
        query = query.where(d.c.event_id == event_id)
    if before is not None:
        query = query.where(d.c.id < before)
    query = query.order_by(d.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        logs: dict[int, list[Attempt]] = {r.id: [] for r in rows}
        if logs:
            for a in conn.execute(
                sa.select(attempts)
                .where(attempts.c.delivery_id.in_(list(logs)))
                .order_by(attempts.c.id)
            ):
                logs[a.delivery_id].append(
                    Attempt(a.attempted_at, a.status_code, a.latency_ms, a.error)
                )
    return [
        DeliveryRecord(
            id=r.id,
            event_id=r.event_id,
            event_type=r.event_type,
            status=r.status,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at if r.status in OPEN else None,
            created_at=r.created_at,
            completed_at=r.completed_at,
            last_status_code=r.last_status_code,
            last_error=r.last_error,
            log=tuple(logs[r.id]),
        )
        for r in rows
    ]


def dead_letters(
    engine: sa.Engine, subscription_id: str, *, before: int | None = None, limit: int = 50
) -> list[DeliveryRecord]:
    """The subscription's dead-letter queue, newest first."""
    return delivery_log(engine, subscription_id, status=DEAD, before=before, limit=limit)


@dataclass(frozen=True)
class Backlog:
    open: int
    due: int
    dead: int
    oldest_open_at: float | None
    disabled: tuple[tuple[str, str | None], ...]  # (subscription id, reason)


def backlog(engine: sa.Engine, *, now: float) -> Backlog:
    """How much waits to be delivered, and which endpoints are disabled."""
    d = deliveries
    is_open = d.c.status.in_(OPEN)
    counts = sa.select(
        sa.func.count().filter(is_open),
        sa.func.count().filter(is_open & (d.c.next_attempt_at <= now)),
        sa.func.count().filter(d.c.status == DEAD),
        sa.func.min(d.c.created_at).filter(is_open),
    )
    disabled = sa.select(subscriptions.c.id, subscriptions.c.disabled_reason).where(
        ~subscriptions.c.active
    )
    with engine.connect() as conn:
        open_, due, dead, oldest = conn.execute(counts).one()
        off = tuple((r.id, r.disabled_reason) for r in conn.execute(disabled))
    return Backlog(open_, due, dead, oldest, off)
