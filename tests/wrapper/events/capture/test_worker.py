"""`legacy-wrapper worker` end to end: a legacy change reaches a loopback receiver,
signed; a worker killed with SIGKILL in the middle of delivering loses no event;
`events status` reports capture lag, backlog and failing endpoints."""

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
from click.testing import CliRunner
from standardwebhooks.webhooks import Webhook

from wrapper.cli import main
from wrapper.events import tables
from wrapper.events.capture.tables import units
from wrapper.events.tables import OPEN, SUCCEEDED, deliveries

from ....support.servers import eventually
from ..conftest import subscribe
from ..receiver import Received, Receiver
from .conftest import MAPPING, ORDERS, T0

CHANGES = 20
IN_FLIGHT = 4
WEBHOOKS = """
webhooks:
  allow: [127.0.0.0/8]
  timeout: 1s
  concurrency: 4
  retry: [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
"""


@pytest.fixture
def config_file(legacy_url: str, tmp_path: Path) -> Path:
    state = f"sqlite:///{tmp_path}/state.db"
    text = MAPPING.format(
        legacy=legacy_url, state=state, events="{capture: snapshot, interval: 0.2s}"
    )
    path = tmp_path / "wrapper.yaml"
    path.write_text(text + WEBHOOKS)
    return path


@contextmanager
def worker(config: Path) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wrapper",
            "worker",
            "--config",
            str(config),
            "--status-every",
            "0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.startswith("worker running: capture of orders (snapshot"), line
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


def state(config: Path) -> sa.Engine:
    return tables.connect(f"sqlite:///{config.parent}/state.db")


def started(store: sa.Engine) -> bool:
    with store.connect() as conn:
        return conn.execute(sa.select(units.c.baseline_at)).scalar() is not None


def statuses(store: sa.Engine) -> Counter:
    with store.connect() as conn:
        return Counter(conn.execute(sa.select(deliveries.c.status)).scalars())


def insert(legacy_url: str, numbers: range) -> None:
    engine = sa.create_engine(legacy_url)
    with engine.begin() as conn:
        conn.execute(
            ORDERS.insert(),
            [{"ORD_NO": i, "CUST": "C1", "STAT": "OP", "AMT": 1, "UPD_TS": T0} for i in numbers],
        )
    engine.dispose()


@pytest.mark.slow
def test_a_worker_killed_mid_delivery_loses_no_event(config_file: Path, legacy_url: str) -> None:
    store = state(config_file)
    held = threading.Event()

    def answer(_request: Received) -> int:
        held.wait(60)
        return 204

    with Receiver(answer=answer) as receiver:
        _, secret = subscribe(store, receiver.url)
        with worker(config_file) as first:
            eventually(lambda: started(store), "the baseline")
            insert(legacy_url, range(1, CHANGES + 1))
            eventually(lambda: len(receiver.received()) >= IN_FLIGHT, "deliveries in flight")
            os.killpg(first.pid, signal.SIGKILL)  # sent, not yet recorded
            first.wait(30)
        assert statuses(store)[SUCCEEDED] == 0
        held.set()
        with worker(config_file):
            eventually(lambda: statuses(store)[SUCCEEDED] == CHANGES, "every delivery", 120)
        got = receiver.received()
    received = Counter(r.event["subject"] for r in got)
    assert set(received) == {str(i) for i in range(1, CHANGES + 1)}  # at least once each
    assert all(r.event["type"] == "orders.created" for r in got)
    assert all(Webhook(secret).verify(r.body, r.headers) for r in got)
    assert not any(statuses(store)[s] for s in OPEN)
    store.dispose()


def test_a_legacy_change_reaches_the_receiver_and_status_reports_it(
    config_file: Path, legacy_url: str
) -> None:
    store = state(config_file)
    with Receiver() as receiver:
        subscribe(store, receiver.url)
        with worker(config_file) as proc:
            eventually(lambda: started(store), "the baseline")
            insert(legacy_url, range(1, 4))
            eventually(lambda: len(receiver.received()) == 3, "three deliveries")
            os.killpg(proc.pid, signal.SIGTERM)
            out = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0
    assert "worker stopped: capture: orders 6 events" in out  # 3 changes x 2 versions
    (event,) = [r.event for r in receiver.received() if r.event["subject"] == "1"]
    assert event["data"] == {
        "order_no": 1,
        "customer": "C1",
        "status": "open",
        "amount": event["data"]["amount"],
        "updated_at": event["data"]["updated_at"],
    }
    result = CliRunner().invoke(main, ["events", "status", "--config", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "orders (snapshot): lag" in result.output
    assert "outbox: 0 events not yet dispatched" in result.output
    assert "deliveries: 0 open" in result.output
    store.dispose()
