"""Through the API: the delivery log, redelivering one event, replaying since a time
or an event id, and dead letters replayed once the receiver answers again."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from standardwebhooks.webhooks import Webhook

from wrapper.events.envelope import change_event, rfc3339

from ...support.tokens import Tokens
from ..events.receiver import Receiver
from .conftest import MINE, PORTAL_SCOPES, deliver


@pytest.fixture
def portal(tokens: Tokens) -> dict[str, str]:
    return tokens(PORTAL_SCOPES, customer_no=MINE)


def order(key: str, at: float, status: str = "open"):
    row = {"order_no": key, "customer_no": MINE, "status": status}
    return change_event("orders", "updated", "v1", key, row, changed_fields=("status",), at=at)


def subscribe(client, headers: dict, url: str) -> tuple[str, str]:
    answer = client.post(
        "/v1/webhooks", json={"url": url, "event_types": ["orders.*"]}, headers=headers
    )
    assert answer.status_code == 201, answer.get_json()
    return f"/v1/webhooks/{answer.get_json()['id']}", answer.get_json()["secret"]


def test_redeliver_and_replay(
    hooks_app: Flask, hooks, store, portal: dict, receiver: Receiver
) -> None:
    client = hooks_app.test_client()
    path, secret = subscribe(client, portal, receiver.url)
    start = time.time() - 100
    events = [order(f"O{i}", start + i * 10) for i in range(4)]
    deliver(hooks, *events)  # different keys: in any order
    assert sorted(receiver.ids()) == sorted(e.id for e in events)

    again = client.post(f"{path}/events/{events[1].id}/redeliver", headers=portal)
    assert again.status_code == 202, again.get_json()
    missing = client.post(f"{path}/events/evt_nope/redeliver", headers=portal)
    assert missing.status_code == 404
    deliver(hooks)
    assert receiver.ids()[4:] == [events[1].id]
    first, last = (r for r in receiver.received() if r.id == events[1].id)
    assert first.body == last.body  # the same event, as delivered
    Webhook(secret).verify(last.body, last.headers)

    since = client.post(f"{path}/replay", json={"since": rfc3339(start + 20)}, headers=portal)
    assert since.status_code == 202 and since.get_json() == {"queued": 2}
    deliver(hooks)
    assert sorted(receiver.ids()[5:]) == sorted([events[2].id, events[3].id])

    after = client.post(f"{path}/replay", json={"after_event": events[0].id}, headers=portal)
    assert after.get_json() == {"queued": 3}
    deliver(hooks)
    assert sorted(receiver.ids()[7:]) == sorted(e.id for e in events[1:])

    for bad, field in (
        ({}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-30T12:00:00"}, "since"),
        ({"since": rfc3339(start), "after_event": events[0].id}, "since"),
    ):
        answer = client.post(f"{path}/replay", json=bad, headers=portal)
        assert answer.status_code == 400 and answer.get_json()["field"] == field, bad
    unknown = client.post(f"{path}/replay", json={"after_event": "evt_nope"}, headers=portal)
    assert unknown.status_code == 404

    log = client.get(f"{path}/deliveries?limit=3", headers=portal).get_json()
    assert len(log["items"]) == 3 and log["next"] is not None
    assert all(
        d["status"] == "succeeded" and d["log"][0]["status_code"] == 204 for d in log["items"]
    )
    ids = [d["id"] for d in log["items"]]
    while log["next"]:
        log = client.get(log["next"], headers=portal).get_json()
        ids += [d["id"] for d in log["items"]]
    assert len(ids) == 10 and ids == sorted(ids, reverse=True)  # newest first, each once
    typo = client.get(f"{path}/deliveries?stauts=dead", headers=portal)
    assert typo.status_code == 400 and typo.get_json()["parameter"] == "stauts"


def test_dead_letters_replayed_when_the_receiver_is_back(
    hooks_app: Flask, hooks, store, portal: dict
) -> None:
    failing = True
    with Receiver(answer=lambda _r: 500 if failing else 204) as receiver:
        client = hooks_app.test_client()
        path, secret = subscribe(client, portal, receiver.url)
        events = [order("O1", time.time()), order("O2", time.time(), "shipped")]
        deliver(hooks, *events)
        assert len(receiver.received()) == 6  # three attempts each, then dead

        dead = client.get(f"{path}/dead-letters", headers=portal).get_json()["items"]
        assert sorted(d["event_id"] for d in dead) == sorted(e.id for e in events)
        assert all(d["attempts"] == 3 and d["last_status_code"] == 500 for d in dead)
        assert all([a["status_code"] for a in d["log"]] == [500] * 3 for d in dead)
        assert all(d["next_attempt_at"] is None for d in dead)

        failing = False
        one = client.post(
            f"{path}/dead-letters/replay", json={"delivery_ids": [dead[0]["id"]]}, headers=portal
        )
        assert one.get_json() == {"queued": 1}
        deliver(hooks)
        assert receiver.ids()[6:] == [dead[0]["event_id"]]
        rest = client.post(f"{path}/dead-letters/replay", headers=portal)
        assert rest.status_code == 202 and rest.get_json() == {"queued": 1}
        deliver(hooks)
        assert receiver.ids()[7:] == [dead[1]["event_id"]]
        Webhook(secret).verify(receiver.received()[-1].body, receiver.received()[-1].headers)
        assert client.get(f"{path}/dead-letters", headers=portal).get_json()["items"] == []
