"""The outbox: appending events and fanning them out per subscriber."""

from __future__ import annotations

import threading

import orjson
import pytest
import sqlalchemy as sa

from wrapper.events import outbox, subscriptions
from wrapper.events.envelope import Event, change_event
from wrapper.events.errors import NotFound
from wrapper.events.outbox import Send, SendDeletion
from wrapper.events.subscriptions import Subscription
from wrapper.events.tables import deliveries

from .conftest import LOOPBACK, order_event, publish, subscribe

URL = "http://127.0.0.1:9/hook"


def bodies(store: sa.Engine, sub: Subscription) -> list[dict]:
    query = (
        sa.select(deliveries.c.body)
        .where(deliveries.c.subscription_id == sub.id)
        .order_by(deliveries.c.id)
    )
    with store.connect() as conn:
        return [orjson.loads(b) for b in conn.execute(query).scalars()]


def test_appending_the_same_event_twice_stores_it_once(store) -> None:
    sub, _ = subscribe(store, URL)
    event = order_event("O1", status="shipped")
    publish(store, event)
    publish(store, event)
    assert [b["id"] for b in bodies(store, sub)] == [event.id]


def test_dispatch_matches_type_patterns_versions_and_active_subscriptions(store) -> None:
    orders, _ = subscribe(store, URL, ["orders.*"])
    updates, _ = subscribe(store, URL, ["orders.updated"])
    jobs, _ = subscribe(store, URL, ["jobs.*"])
    v2, _ = subscribe(store, URL, ["*"], version="v2")
    off, _ = subscribe(store, URL, ["*"])
    subscriptions.update(store, off.id, active=False, policy=LOOPBACK)
    created, updated = order_event("O1", "created"), order_event("O1", status="shipped")
    with store.begin() as conn:
        outbox.append(conn, [created, updated])
    assert outbox.dispatch(store) == 2
    assert outbox.dispatch(store) == 0
    assert [b["type"] for b in bodies(store, orders)] == ["orders.created", "orders.updated"]
    assert [b["type"] for b in bodies(store, updates)] == ["orders.updated"]
    assert bodies(store, jobs) == bodies(store, v2) == bodies(store, off) == []
    body = bodies(store, orders)[1]
    assert body["id"] == updated.id and body["subject"] == "O1"
    assert body["source"] == "/v1/orders" and body["changedfields"] == "status"
    assert body["data"] == {"order_no": "O1", "status": "shipped"}
    assert int(body["sequence"]) > int(bodies(store, orders)[0]["sequence"])


def customer_rules(subscription: Subscription, event: Event) -> outbox.Decision:
    """A portal sees its own customer's orders without prices; others see all."""
    data = dict(event.data)
    if subscription.owner != "portal":
        return Send(data)
    if data.get("customer") != "C1":
        return SendDeletion({"order_no": data["order_no"]}) if event.changed_fields else None
    data.pop("total", None)
    return Send(data)


def test_each_subscriber_receives_what_its_rules_decide(store) -> None:
    portal, _ = subscribe(store, URL, ["orders.*"])
    deletions, _ = subscribe(store, URL, ["orders.deleted"])
    dashboard, _ = subscriptions.create(
        store, owner="dashboard", api_version="v1", url=URL, event_types=["*"], policy=LOOPBACK
    )
    mine = order_event("O1", customer="C1", total=10)
    moved = order_event("O2", customer="C2")  # an update that left the portal's view
    other = change_event("orders", "created", "v1", "O3", {"order_no": "O3", "customer": "C2"})
    with store.begin() as conn:
        outbox.append(conn, [mine, moved, other])
    outbox.dispatch(store, customer_rules)
    got = bodies(store, portal)
    assert [(b["type"], b["subject"]) for b in got] == [
        ("orders.updated", "O1"),
        ("orders.deleted", "O2"),
    ]
    assert got[0]["data"] == {"order_no": "O1", "customer": "C1"}
    assert got[0]["changedfields"] == "customer"  # `total` is hidden, so not named either
    assert got[1]["data"] == {"order_no": "O2"} and "changedfields" not in got[1]
    assert got[1]["id"] == moved.id
    # a subscriber to deletions only receives the deletion its rules made of an update
    assert [(b["type"], b["subject"]) for b in bodies(store, deletions)] == [
        ("orders.deleted", "O2")
    ]
    assert [b["subject"] for b in bodies(store, dashboard)] == ["O1", "O2", "O3"]
    assert bodies(store, dashboard)[0]["data"]["total"] == 10


def test_replay_from_a_time_or_after_an_event(store) -> None:
    sub, _ = subscribe(store, URL)
    events = [
        change_event("orders", "updated", "v1", f"O{i}", {"i": i}, at=1000.0 + i) for i in range(5)
    ]
    publish(store, *events)
    late, _ = subscribe(store, URL)
    assert bodies(store, late) == []
    assert outbox.replay(store, late, since=1003.0) == 2
    assert [b["subject"] for b in bodies(store, late)] == ["O3", "O4"]
    assert outbox.replay(store, late, after_event=events[1].id) == 3
    assert [b["subject"] for b in bodies(store, late)][2:] == ["O2", "O3", "O4"]
    assert outbox.replay(store, sub, since=0, batch=2) == 5
    with pytest.raises(NotFound):
        outbox.replay(store, sub, after_event="evt_missing")
    with pytest.raises(ValueError):
        outbox.replay(store, sub)


def test_concurrent_dispatchers_fan_each_event_out_once(store) -> None:
    sub, _ = subscribe(store, URL)
    events = [order_event(f"O{i % 7}", n=i) for i in range(600)]
    with store.begin() as conn:
        outbox.append(conn, events)

    def drain() -> None:
        while outbox.dispatch(store, limit=50):
            pass

    threads = [threading.Thread(target=drain) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drain()
    got = [b["id"] for b in bodies(store, sub)]
    assert sorted(got) == sorted(e.id for e in events)
