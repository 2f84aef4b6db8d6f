"""At least once: a worker killed with SIGKILL between sending and recording loses
no event; a restarted worker sends the unrecorded ones again, same webhook-id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from wrapper.events.tables import OPEN, SUCCEEDED, deliveries

from ...support.servers import eventually
from .conftest import order_event, publish, subscribe
from .receiver import Received, Receiver

WORKER = Path(__file__).with_name("worker_process.py")
EVENTS = 40
IN_FLIGHT = 8  # the worker's concurrency


@contextmanager
def worker(store_url: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


def counts(store: sa.Engine) -> Counter:
    with store.connect() as conn:
        return Counter(conn.execute(sa.select(deliveries.c.status)).scalars())


@pytest.mark.slow
def test_a_worker_killed_mid_delivery_loses_no_event(store, store_url: str) -> None:
    held = threading.Event()  # while clear, requests are held unanswered

    def answer(_request: Received) -> int:
        held.wait(60)
        return 204

    with Receiver(answer=answer) as receiver:
        _, secret = subscribe(store, receiver.url)
        events = [order_event(f"O{i}", n=i) for i in range(EVENTS)]
        publish(store, *events)

        with worker(store_url) as first:
            eventually(lambda: len(receiver.received()) >= IN_FLIGHT)
            os.killpg(first.pid, signal.SIGKILL)  # sent, not yet recorded
            first.wait(30)
        in_flight = set(receiver.ids())
        assert len(in_flight) == IN_FLIGHT
        assert counts(store)[SUCCEEDED] == 0  # nothing was recorded as delivered
        held.set()

        with worker(store_url):
            eventually(lambda: counts(store)[SUCCEEDED] == EVENTS, within=120)
        got = receiver.received()

    received = Counter(r.id for r in got)
    assert set(received) == {e.id for e in events}  # every event at least once
    assert all(received[i] >= 2 for i in in_flight)  # the unrecorded ones again
    assert all(Webhook(secret).verify(r.body, r.headers) for r in got)
    assert not any(counts(store)[s] for s in OPEN)
