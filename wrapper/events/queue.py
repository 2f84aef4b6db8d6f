"""The delivery queue: claiming due deliveries and recording their attempts.

A claim takes open deliveries that are due, whose subscription is active and
that have no earlier open delivery of the same key to the same subscription,
and leases them to one worker. On PostgreSQL the candidates are locked with
`FOR UPDATE SKIP LOCKED`, so several workers claim disjoint sets without
waiting for each other; on SQLite one `UPDATE ... RETURNING` statement
claims them while holding the database's single write lock.

An attempt is recorded after its request: a worker killed in between records
nothing, its lease runs out and the delivery is sent again (at least once,
never lost), with the same `webhook-id`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa

from wrapper.events.envelope import rfc3339
from wrapper.events.errors import NotFound
from wrapper.events.retry import RetryPolicy
from wrapper.events.subscriptions import signing_secrets
from wrapper.events.tables import (
    DEAD,
    FAILED,
    OPEN,
    PENDING,
    SUCCEEDED,
    attempts,
    deliveries,
    subscriptions,
)

MAX_ERROR = 500


@dataclass(frozen=True)
class Due:
    """A claimed delivery, with what its request needs."""

    id: int
    subscription_id: str
    event_id: str
    url: str
    body: bytes
    secrets: tuple[str, ...]
    attempt: int  # 1 for the first attempt


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: an HTTP status, or an error before any status."""

    delivery_id: int
    subscription_id: str
    attempt: int
    at: float
    latency_ms: int
    status_code: int | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def _candidates(limit: int, now: float) -> sa.Select:
    d, earlier = deliveries, deliveries.alias("earlier")
    blocked = sa.exists().where(
        earlier.c.subscription_id == d.c.subscription_id,
        earlier.c.ordering_key == d.c.ordering_key,
        earlier.c.status.in_(OPEN),
        (earlier.c.event_seq < d.c.event_seq)
        | ((earlier.c.event_seq == d.c.event_seq) & (earlier.c.id < d.c.id)),
    )
    active = sa.exists().where(subscriptions.c.id == d.c.subscription_id, subscriptions.c.active)
    return (
        sa.select(d.c.id)
        .where(
            d.c.status.in_(OPEN),
            d.c.next_attempt_at <= now,
            d.c.lease_until.is_(None) | (d.c.lease_until <= now),
            active,
            ~blocked,
        )
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(limit)
    )


def claim(engine: sa.Engine, worker: str, limit: int, *, lease: float, now: float) -> list[Due]:
    """Leases up to ``limit`` due deliveries to ``worker`` until ``now + lease``."""
    lease_values = {"lease_until": now + lease, "leased_by": worker}
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            locked = _candidates(limit, now).with_for_update(skip_locked=True, of=deliveries)
            ids = conn.execute(locked).scalars().all()
            if ids:
                conn.execute(
                    deliveries.update().where(deliveries.c.id.in_(ids)).values(lease_values)
                )
        else:
            statement = (
                deliveries.update()
                .where(deliveries.c.id.in_(_candidates(limit, now).scalar_subquery()))
                .values(lease_values)
                .returning(deliveries.c.id)
            )
            ids = conn.execute(statement).scalars().all()
        if not ids:
            return []
        rows = conn.execute(
            sa.select(
                deliveries.c.id,
                deliveries.c.subscription_id,
                deliveries.c.event_id,
                deliveries.c.body,
                deliveries.c.attempts,
                subscriptions.c.url,
            )
            .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
            .where(deliveries.c.id.in_(ids))
            .order_by(deliveries.c.id)
        ).all()
        keys = signing_secrets(conn, {r.subscription_id for r in rows}, now)
    return [
        Due(
            id=r.id,
            subscription_id=r.subscription_id,
            event_id=r.event_id,
            url=r.url,
            body=r.body.encode(),
            secrets=tuple(keys.get(r.subscription_id, ())),
            attempt=r.attempts + 1,
        )
        for r in rows
    ]


def _delivery_values(
    outcome: Outcome, policy: RetryPolicy, now: float, rand: Callable[[], float]
) -> dict:
    values = {
        "b_id": outcome.delivery_id,
        "attempts": outcome.attempt,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "next_attempt_at": now,
        "completed_at": now,
    }
    if outcome.succeeded:
        return values | {"status": SUCCEEDED, "last_error": None}
    delay = policy.next_delay(outcome.attempt, rand())
    if delay is None:
        return values | {"status": DEAD}
    return values | {"status": FAILED, "next_attempt_at": now + delay, "completed_at": None}


def record(
    engine: sa.Engine,
    worker: str,
    outcomes: Sequence[Outcome],
    policy: RetryPolicy,
    *,
    now: float,
    rand: Callable[[], float] = random.random,
) -> None:
    """Stores the outcomes of attempts by ``worker``, schedules retries or dead
    letters, and disables endpoints that answered 410 or kept failing."""
    if not outcomes:
        return
    outcomes = [o if o.error is None else replace(o, error=o.error[:MAX_ERROR]) for o in outcomes]
    b = sa.bindparam
    settle = (
        deliveries.update()
        .where(deliveries.c.id == b("b_id"), deliveries.c.leased_by == worker)
        .values(
            status=b("status"),
            attempts=b("attempts"),
            next_attempt_at=b("next_attempt_at"),
            completed_at=b("completed_at"),
            last_status_code=b("last_status_code"),
            last_error=b("last_error"),
            lease_until=None,
            leased_by=None,
        )
    )
    with engine.begin() as conn:
        conn.execute(settle, [_delivery_values(o, policy, now, rand) for o in outcomes])
        ids = [o.delivery_id for o in outcomes]
        existing = set(
            conn.execute(sa.select(deliveries.c.id).where(deliveries.c.id.in_(ids))).scalars()
        )
        logged = [
            {
                "delivery_id": o.delivery_id,
                "attempted_at": o.at,
                "status_code": o.status_code,
                "latency_ms": o.latency_ms,
                "error": o.error,
            }
            for o in outcomes
            if o.delivery_id in existing
        ]
        if logged:
            conn.execute(attempts.insert(), logged)
        _endpoint_health(conn, outcomes, policy, now)


def _endpoint_health(
    conn: sa.Connection, outcomes: Sequence[Outcome], policy: RetryPolicy, now: float
) -> None:
    s = subscriptions
    healthy = {o.subscription_id for o in outcomes if o.succeeded}
    failing = {o.subscription_id for o in outcomes if not o.succeeded} - healthy
    if healthy:
        conn.execute(
            s.update()
            .where(s.c.id.in_(healthy), s.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
    if not failing:
        return
    conn.execute(
        s.update().where(s.c.id.in_(failing), s.c.failing_since.is_(None)).values(failing_since=now)
    )
    for outcome in outcomes:
        if outcome.gone:
            _disable(conn, outcome.subscription_id, now, "the endpoint answered 410 Gone")
    too_long = conn.execute(
        sa.select(s.c.id, s.c.failing_since).where(
            s.c.id.in_(failing), s.c.active, s.c.failing_since <= now - policy.disable_after
        )
    ).all()
    for sub_id, since in too_long:
        _disable(conn, sub_id, now, f"every attempt failed since {rfc3339(since)}")


def _disable(conn: sa.Connection, subscription_id: str, now: float, reason: str) -> None:
    conn.execute(
        subscriptions.update()
        .where(subscriptions.c.id == subscription_id, subscriptions.c.active)
        .values(active=False, disabled_at=now, disabled_reason=reason, updated_at=now)
    )


def redeliver(engine: sa.Engine, subscription_id: str, event_id: str, *, now: float) -> int:
    """Sends an event to a subscription again, with the body and `webhook-id` it was
    delivered with; returns the new delivery's id."""
    d = deliveries
    latest = (
        sa.select(d.c.event_seq, d.c.event_type, d.c.ordering_key, d.c.body)
        .where(d.c.subscription_id == subscription_id, d.c.event_id == event_id)
        .order_by(d.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(latest).first()
    if row is None:
        raise NotFound(f"event {event_id} was never delivered to {subscription_id}")
    with engine.begin() as conn:
        return conn.execute(
            d.insert()
            .values(
                subscription_id=subscription_id,
                event_id=event_id,
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                **row._mapping,
            )
            .returning(d.c.id)
        ).scalar_one()


def requeue_dead(
    engine: sa.Engine,
    subscription_id: str,
    *,
    delivery_ids: Sequence[int] | None = None,
    now: float,
) -> int:
    """Puts dead deliveries of a subscription (all, or the ones named) back in the
    queue for a fresh schedule of attempts; returns how many."""
    d = deliveries
    where = [d.c.subscription_id == subscription_id, d.c.status == DEAD]
    if delivery_ids is not None:
        where.append(d.c.id.in_(list(delivery_ids)))
    with engine.begin() as conn:
        done = conn.execute(
            d.update()
            .where(*where)
            .values(status=PENDING, attempts=0, next_attempt_at=now, completed_at=None)
        )
    return done.rowcount
