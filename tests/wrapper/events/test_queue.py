"""Claiming and recording, step by step with explicit times, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from wrapper.events import subscriptions
from wrapper.events.delivery_log import backlog, delivery_log
from wrapper.events.errors import NotFound
from wrapper.events.queue import Due, Outcome, claim, record, redeliver
from wrapper.events.retry import RetryPolicy
from wrapper.events.tables import DEAD, FAILED, SUCCEEDED

from .conftest import LOOPBACK, order_event, publish, subscribe

URL = "http://127.0.0.1:9/hook"
POLICY = RetryPolicy(schedule=(10.0, 20.0), jitter=0.0)
LEASE = 60.0


def subjects(due: list[Due]) -> list[str]:
    return sorted(d.event_id for d in due)


def answered(due: Due, status: int | None, now: float) -> Outcome:
    return Outcome(due.id, due.subscription_id, due.attempt, now, 5, status, None)


def test_only_the_oldest_open_delivery_of_a_key_is_claimed(store) -> None:
    subscribe(store, URL)
    a1, a2, b1 = order_event("A", n=1), order_event("A", n=2), order_event("B", n=1)
    publish(store, a1, a2, b1)
    now = time.time() + 1
    first = claim(store, "w", 10, lease=LEASE, now=now)
    assert subjects(first) == sorted([a1.id, b1.id])
    (due,) = [d for d in first if d.event_id == a1.id]
    (b,) = [d for d in first if d.event_id == b1.id]
    record(store, "w", [answered(b, 204, now)], POLICY, now=now)
    at = now
    for retry_at in (now + 10, now + 30):  # a1 fails three times; a2 waits behind it
        record(store, "w", [answered(due, 500, at)], POLICY, now=at)
        assert claim(store, "w", 10, lease=LEASE, now=retry_at - 1) == []
        (due,) = claim(store, "w", 10, lease=LEASE, now=retry_at)
        assert due.event_id == a1.id
        at = retry_at
    record(store, "w", [answered(due, 500, at)], POLICY, now=at)  # the last attempt: dead
    assert [d.event_id for d in claim(store, "w", 10, lease=LEASE, now=now + 31)] == [a2.id]


def test_a_lease_keeps_others_away_until_it_runs_out(store) -> None:
    subscribe(store, URL)
    publish(store, order_event("A"))
    now = time.time() + 1
    mine = claim(store, "w1", 10, lease=LEASE, now=now)
    assert len(mine) == 1 and mine[0].attempt == 1
    assert claim(store, "w2", 10, lease=LEASE, now=now + LEASE - 1) == []
    taken = claim(store, "w2", 10, lease=LEASE, now=now + LEASE + 1)  # w1 died
    assert [d.id for d in taken] == [mine[0].id] and taken[0].attempt == 1
    # w1 comes back late: its attempt is logged, but the delivery stays w2's
    record(store, "w1", [answered(mine[0], 204, now + LEASE + 2)], POLICY, now=now + LEASE + 2)
    sub_id = mine[0].subscription_id
    log = delivery_log(store, sub_id)[0]
    assert log.status == "pending" and len(log.log) == 1
    record(store, "w2", [answered(taken[0], 204, now + LEASE + 3)], POLICY, now=now + LEASE + 3)
    log = delivery_log(store, sub_id)[0]
    assert log.status == SUCCEEDED and log.attempts == 1 and len(log.log) == 2


def test_failures_follow_the_schedule_then_die(store) -> None:
    sub, _ = subscribe(store, URL)
    publish(store, order_event("A"))
    start = time.time() + 1
    expected = [(FAILED, 1, start + 10), (FAILED, 2, start + 30), (DEAD, 3, None)]
    at = start
    for status, attempts, next_at in expected:
        (due,) = claim(store, "w", 10, lease=LEASE, now=at)
        record(store, "w", [answered(due, 503, at)], POLICY, now=at)
        (entry,) = delivery_log(store, sub.id)
        assert (entry.status, entry.attempts, entry.next_attempt_at) == (status, attempts, next_at)
        if next_at is not None:
            assert claim(store, "w", 10, lease=LEASE, now=next_at - 0.5) == []
            at = next_at
    assert claim(store, "w", 10, lease=LEASE, now=at + 1000) == []
    assert [a.status_code for a in entry.log] == [503, 503, 503]


def test_inactive_subscriptions_and_failing_endpoints(store: sa.Engine) -> None:
    off, _ = subscribe(store, URL + "/off")
    hanging, _ = subscribe(store, URL + "/hanging")
    healthy, _ = subscribe(store, URL + "/healthy")
    publish(store, *[order_event(f"O{i}") for i in range(4)])
    subscriptions.update(store, off.id, active=False, policy=LOOPBACK)
    now = time.time() + 1
    first = claim(store, "w", 100, lease=LEASE, now=now)
    assert sorted(d.subscription_id for d in first) == sorted([hanging.id, healthy.id] * 4)
    stuck = [d for d in first if d.subscription_id == hanging.id]
    fine = [answered(d, 204, now) for d in first if d.subscription_id == healthy.id]
    record(store, "w", [*fine, answered(stuck[0], None, now)], POLICY, now=now)
    # failing, with three requests still in flight: nothing more for it
    assert claim(store, "w", 100, lease=LEASE, now=now + 20) == []
    record(store, "w", [answered(d, None, now + 1) for d in stuck[1:]], POLICY, now=now + 1)
    # failing, nothing in flight: one probe at a time, the oldest
    (probe,) = claim(store, "w", 100, lease=LEASE, now=now + 30)
    assert probe.id == stuck[0].id
    assert claim(store, "w", 100, lease=LEASE, now=now + 31) == []
    record(store, "w", [answered(probe, 204, now + 32)], POLICY, now=now + 32)
    # it answered: the rest of its backlog goes at once
    rest = claim(store, "w", 100, lease=LEASE, now=now + 40)
    assert sorted(d.id for d in rest) == sorted(d.id for d in stuck[1:])


def test_claims_carry_every_unexpired_secret_newest_first(store) -> None:
    sub, old = subscribe(store, URL)
    new = subscriptions.rotate_secret(store, sub.id, overlap=100, now=time.time())
    publish(store, order_event("A"))
    (due,) = claim(store, "w", 10, lease=LEASE, now=time.time() + 1)
    assert due.secrets == (new, old) and due.url == URL
    assert due.body.startswith(b'{"specversion":"1.0"')


def test_the_delivery_log_pages_newest_first_and_redelivery_needs_a_past_delivery(store) -> None:
    sub, _ = subscribe(store, URL)
    events = [order_event(f"O{i}") for i in range(5)]
    publish(store, *events)
    first = delivery_log(store, sub.id, limit=2)
    second = delivery_log(store, sub.id, limit=2, before=first[-1].id)
    rest = delivery_log(store, sub.id, limit=2, before=second[-1].id)
    ids = [d.event_id for d in first + second + rest]
    assert ids == [e.id for e in reversed(events)]
    assert all(d.status == "pending" and d.next_attempt_at is not None for d in first)
    assert [d.event_id for d in delivery_log(store, sub.id, event_id=events[2].id)] == [
        events[2].id
    ]
    with pytest.raises(NotFound):
        redeliver(store, sub.id, "evt_never", now=time.time())
    again = redeliver(store, sub.id, events[0].id, now=time.time())
    assert delivery_log(store, sub.id, limit=1)[0].id == again
    status = backlog(store, now=time.time() + 1)
    assert (status.open, status.due, status.dead, status.disabled) == (6, 6, 0, ())
