"""The outbox: events in, deliveries out.

Capture appends events inside its own transaction (with the watermark or
snapshot it advances), so an event is stored exactly when its change is
marked as seen. `dispatch` then fans each event out, in outbox order, into one
delivery per subscription that receives it. What a subscriber receives is
decided per subscription by a callable (the subscriber's row and field
rules): the row as that subscriber may see it, a deletion when the change
took the row out of its view, or nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from wrapper.events.envelope import Event, dumps, envelope, loads
from wrapper.events.errors import NotFound
from wrapper.events.subscriptions import Subscription, from_row
from wrapper.events.tables import PENDING, deliveries, outbox, subscriptions


@dataclass(frozen=True)
class Send:
    """Deliver the event with ``data``, the row as this subscriber may see it.

    ``changed_fields`` defaults to the event's, limited to the keys of ``data``
    when it is an object, so a hidden field is not named either."""

    data: Any
    changed_fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SendDeletion:
    """The change took the row out of this subscriber's view: deliver
    `<resource>.deleted` with ``data`` (usually the key fields)."""

    data: Any


Decision = Send | SendDeletion | None
Decide = Callable[[Subscription, Event], Decision]


def send_unchanged(subscription: Subscription, event: Event) -> Decision:
    """Every matching subscriber receives the event as it is."""
    return Send(event.data)


def append(conn: sa.Connection, events: Iterable[Event]) -> None:
    """Adds events to the outbox in the caller's transaction; an event whose id is
    already there is skipped, so capturing the same change again adds nothing."""
    rows = [
        {
            "id": e.id,
            "type": e.type,
            "resource": e.resource,
            "version": e.version,
            "subject": e.subject,
            "time": e.time,
            "data": dumps(e.data).decode(),
            "changed_fields": orjson.dumps(list(e.changed_fields)).decode(),
            "previous": None if e.previous is None else dumps(e.previous).decode(),
        }
        for e in events
    ]
    if not rows:
        return
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[conn.dialect.name]
    conn.execute(dialect.insert(outbox).on_conflict_do_nothing(index_elements=["id"]), rows)


def _event(row: Any) -> Event:
    m = row._mapping
    return Event(
        id=m["id"],
        type=m["type"],
        resource=m["resource"],
        version=m["version"],
        subject=m["subject"],
        time=m["time"],
        data=loads(m["data"]),
        changed_fields=tuple(orjson.loads(m["changed_fields"])),
        sequence=m["seq"],
        previous=None if m["previous"] is None else loads(m["previous"]),
    )


def delivery_row(
    subscription: Subscription, event: Event, decide: Decide, *, source_base: str, now: float
) -> dict[str, Any] | None:
    """The delivery of ``event`` to ``subscription``, or None when it receives nothing."""
    if subscription.api_version != event.version:
        return None
    deleted = f"{event.resource}.deleted"
    if not (subscription.wants(event.type) or subscription.wants(deleted)):
        return None
    decision = decide(subscription, event)
    if isinstance(decision, Send):
        event_type, data, changed = event.type, decision.data, decision.changed_fields
        if changed is None:
            changed = tuple(
                f for f in event.changed_fields if not isinstance(data, dict) or f in data
            )
    elif isinstance(decision, SendDeletion):
        event_type, data, changed = deleted, decision.data, ()
    else:
        return None
    if not subscription.wants(event_type):
        return None
    source = f"{source_base}/{event.version}/{event.resource}"
    body = envelope(event, source=source, event_type=event_type, data=data, changed_fields=changed)
    return {
        "subscription_id": subscription.id,
        "event_seq": event.sequence,
        "event_id": event.id,
        "event_type": event_type,
        "ordering_key": None if event.subject is None else f"{event.resource}/{event.subject}",
        "body": dumps(body).decode(),
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def dispatch(
    engine: sa.Engine,
    decide: Decide = send_unchanged,
    *,
    source_base: str = "",
    limit: int = 500,
    now: float | None = None,
) -> int:
    """Fans the oldest undispatched events out to the active subscriptions; returns
    how many events it took (0 when none was waiting).

    Workers dispatch one batch at a time: a second worker waits for the first
    batch's rows, so deliveries of one key are created in event order."""
    now = time.time() if now is None else now
    waiting = (
        sa.select(outbox.c.seq)
        .where(outbox.c.dispatched_at.is_(None))
        .order_by(outbox.c.seq)
        .limit(limit)
    )
    claim = (
        outbox.update()
        .where(outbox.c.seq.in_(waiting.scalar_subquery()), outbox.c.dispatched_at.is_(None))
        .values(dispatched_at=now)
        .returning(outbox.c.seq)
    )
    with engine.begin() as conn:
        seqs = conn.execute(claim).scalars().all()
        if not seqs:
            return 0
        events = [
            _event(r)
            for r in conn.execute(
                outbox.select().where(outbox.c.seq.in_(seqs)).order_by(outbox.c.seq)
            )
        ]
        subs = [
            from_row(r) for r in conn.execute(subscriptions.select().where(subscriptions.c.active))
        ]
        rows = [
            row
            for event in events
            for sub in subs
            if (row := delivery_row(sub, event, decide, source_base=source_base, now=now))
        ]
        if rows:
            conn.execute(deliveries.insert(), rows)
    return len(events)


def replay(
    engine: sa.Engine,
    subscription: Subscription,
    decide: Decide = send_unchanged,
    *,
    since: float | None = None,
    after_event: str | None = None,
    source_base: str = "",
    batch: int = 500,
    now: float | None = None,
) -> int:
    """Delivers again every dispatched event from time ``since`` on (inclusive) or
    after the event ``after_event`` (exclusive), as the subscriber's rules decide
    today; returns how many deliveries it created."""
    if (since is None) == (after_event is None):
        raise ValueError("replay from a time or from an event id, not both")
    now = time.time() if now is None else now
    with engine.connect() as conn:
        if after_event is not None:
            start = conn.execute(sa.select(outbox.c.seq).where(outbox.c.id == after_event)).scalar()
            if start is None:
                raise NotFound(f"no event {after_event}")
            where = outbox.c.seq > start
        else:
            where = outbox.c.time >= since
    created, last = 0, 0
    while True:
        query = (
            outbox.select()
            .where(where, outbox.c.seq > last, outbox.c.dispatched_at.is_not(None))
            .order_by(outbox.c.seq)
            .limit(batch)
        )
        with engine.connect() as conn:
            events = [_event(r) for r in conn.execute(query)]
        if not events:
            return created
        last = events[-1].sequence or last
        rows = [
            row
            for event in events
            if (row := delivery_row(subscription, event, decide, source_base=source_base, now=now))
        ]
        if rows:
            with engine.begin() as conn:
                conn.execute(deliveries.insert(), rows)
            created += len(rows)
