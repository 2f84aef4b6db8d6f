"""Delivery to real receivers on loopback, on SQLite and PostgreSQL, with a
compressed retry schedule."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import replace

import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from wrapper.events import outbox, queue, subscriptions
from wrapper.events.delivery import DeliveryConfig, DeliveryEngine
from wrapper.events.delivery_log import backlog, dead_letters, delivery_log
from wrapper.events.retry import RetryPolicy
from wrapper.events.subscriptions import Subscription
from wrapper.events.tables import DEAD, FAILED, SUCCEEDED

from ...support.servers import eventually, free_port
from .conftest import FAST, LOOPBACK, order_event, publish, running, subscribe
from .receiver import Received, Receiver

PATIENT = replace(FAST, retry=RetryPolicy(schedule=(0.1,) * 100, jitter=0.2))


def statuses(store: sa.Engine, sub: Subscription) -> list[str]:
    return [d.status for d in reversed(delivery_log(store, sub.id, limit=1000))]


def test_deliveries_are_signed_and_verify_with_both_secrets_during_rotation(store) -> None:
    with Receiver() as receiver:
        sub, old = subscribe(store, receiver.url)
        new = subscriptions.rotate_secret(store, sub.id, overlap=3600)
        events = [order_event(f"O{i}", status="shipped") for i in range(5)]
        with running(store):
            publish(store, *events)
            eventually(lambda: statuses(store, sub) == [SUCCEEDED] * 5)
        got = receiver.received()
    assert sorted(r.id for r in got) == sorted(e.id for e in events)
    for request in got:
        for secret in (old, new):
            body = Webhook(secret).verify(request.body, request.headers)
            assert body["id"] == request.id and body["specversion"] == "1.0"
        assert request.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
        assert request.path == "/hook"
        assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60


def test_a_receiver_that_is_down_then_up_gets_the_event(store) -> None:
    port = free_port()
    sub, secret = subscribe(store, f"http://127.0.0.1:{port}/hook")
    event = order_event("O1", status="held")
    with running(store, PATIENT):
        publish(store, event)
        eventually(lambda: len(delivery_log(store, sub.id)[0].log) >= 2)
        assert statuses(store, sub) == [FAILED]
        with Receiver(port) as receiver:
            eventually(lambda: statuses(store, sub) == [SUCCEEDED])
            got = receiver.received()
    assert [r.id for r in got] == [event.id]
    assert Webhook(secret).verify(got[0].body, got[0].headers)["data"]["status"] == "held"
    log = delivery_log(store, sub.id)[0].log
    assert all(a.status_code is None and "Connection refused" in (a.error or "") for a in log[:-1])
    assert log[-1].status_code == 204 and log[-1].error is None


def test_a_receiver_that_always_fails_fills_the_dead_letter_queue_then_replay(store) -> None:
    answer = {"status": 500}
    with Receiver(answer=lambda _r: answer["status"]) as receiver:
        sub, secret = subscribe(store, receiver.url)
        event = order_event("O1", status="held")
        with running(store) as engine:
            publish(store, event)
            eventually(lambda: statuses(store, sub) == [DEAD])
            assert len(receiver.received()) == FAST.retry.max_attempts == 4
            dead = dead_letters(store, sub.id)
            assert [d.event_id for d in dead] == [event.id]
            assert dead[0].attempts == 4 and dead[0].next_attempt_at is None
            assert [a.status_code for a in dead[0].log] == [500] * 4
            assert all(a.error == "HTTP 500" and a.latency_ms >= 0 for a in dead[0].log)
            assert backlog(store, now=time.time()).dead == 1

            answer["status"] = 200
            assert queue.requeue_dead(store, sub.id, now=time.time()) == 1
            engine.wake()
            eventually(lambda: statuses(store, sub) == [SUCCEEDED])
            assert dead_letters(store, sub.id) == []

            queue.redeliver(store, sub.id, event.id, now=time.time())
            eventually(lambda: statuses(store, sub) == [SUCCEEDED, SUCCEEDED])
        got = receiver.received()
    assert [r.id for r in got] == [event.id] * 6  # same webhook-id on every try
    assert all(Webhook(secret).verify(r.body, r.headers) for r in got)


def test_410_disables_the_endpoint_with_its_reason_until_reactivated(store) -> None:
    answer = {"status": 410}
    with Receiver(answer=lambda _r: answer["status"]) as receiver:
        sub, _ = subscribe(store, receiver.url)
        first = order_event("O1", status="held")
        with running(store):
            publish(store, first)
            eventually(lambda: not subscriptions.get(store, sub.id).active)
            off = subscriptions.get(store, sub.id)
            assert off.disabled_reason == "the endpoint answered 410 Gone"
            assert backlog(store, now=time.time()).disabled == ((sub.id, off.disabled_reason),)
            assert statuses(store, sub) == [FAILED]  # kept, not lost
            later = order_event("O2", status="shipped")
            publish(store, later)
            time.sleep(0.3)  # the engine is polling: nothing may be sent meanwhile
            assert receiver.ids() == [first.id]

            answer["status"] = 204
            subscriptions.update(store, sub.id, active=True, policy=LOOPBACK)
            outbox.replay(store, subscriptions.get(store, sub.id), after_event=first.id)
            eventually(lambda: statuses(store, sub) == [SUCCEEDED, SUCCEEDED])
    assert sorted(receiver.ids()) == sorted([first.id, first.id, later.id])


def test_an_endpoint_failing_for_too_long_is_disabled(store) -> None:
    config = replace(PATIENT, retry=replace(PATIENT.retry, disable_after=0.3))
    with Receiver(answer=lambda _r: 503) as receiver:
        sub, _ = subscribe(store, receiver.url)
        with running(store, config):
            publish(store, order_event("O1"))
            eventually(lambda: not subscriptions.get(store, sub.id).active)
        assert len(receiver.received()) >= 2
    reason = subscriptions.get(store, sub.id).disabled_reason or ""
    assert reason.startswith("every attempt failed since ")


def test_events_of_one_key_arrive_in_order_while_retried(store) -> None:
    seen: set[str] = set()
    lock = threading.Lock()

    def fail_first_try(request: Received) -> int:
        with lock:
            first = request.id not in seen
            seen.add(request.id)
        return 500 if first else 204

    keys = ["A", "B", "C"]
    events = [order_event(k, n=n) for n in range(4) for k in keys]
    with Receiver(answer=fail_first_try) as receiver:
        sub, _ = subscribe(store, receiver.url)
        with running(store):
            publish(store, *events)
            eventually(lambda: statuses(store, sub) == [SUCCEEDED] * len(events))
        per_key = defaultdict(list)
        for request in receiver.received():
            per_key[request.event["subject"]].append(request.id)
    for key in keys:
        mine = [e.id for e in events if e.subject == key]
        assert per_key[key] == [i for i in mine for _ in (1, 2)]  # each failed once, in order


def test_a_slow_receiver_times_out_and_is_retried(store) -> None:
    release = threading.Event()

    def slow_once(request: Received) -> int:
        if not release.is_set():
            release.set()
            time.sleep(3)
        return 204

    config = replace(FAST, timeout=0.5)
    with Receiver(answer=slow_once) as receiver:
        sub, _ = subscribe(store, receiver.url)
        with running(store, config):
            publish(store, order_event("O1"))
            eventually(lambda: statuses(store, sub) == [SUCCEEDED])
        assert len(receiver.received()) == 2
    first, second = delivery_log(store, sub.id)[0].log
    assert first.status_code is None and first.error == "no answer within 0.5 s"
    assert second.status_code == 204


def test_two_engines_deliver_each_attempt_once(store) -> None:
    def slightly_slow(_request: Received) -> int:
        time.sleep(0.002)
        return 204

    config = DeliveryConfig(concurrency=4, poll_interval=0.02, allow=LOOPBACK)
    with Receiver(answer=slightly_slow) as receiver:
        subs = [subscribe(store, receiver.url + f"/{n}")[0] for n in range(3)]
        events = [order_event(f"O{i % 50}", n=i) for i in range(150)]
        publish(store, *events)
        made = [0, 0]
        stop = threading.Event()

        def work(n: int) -> None:
            engine = DeliveryEngine(store, config)
            try:
                made[n] = engine.run(stop)
            finally:
                engine.close()

        threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        eventually(lambda: all(statuses(store, s) == [SUCCEEDED] * 150 for s in subs), within=120)
        stop.set()
        for thread in threads:
            thread.join()
        got = [(r.path, r.id) for r in receiver.received()]
    assert len(got) == len(set(got)) == 450  # every delivery sent exactly once
    assert made[0] > 0 and made[1] > 0 and sum(made) == 450
