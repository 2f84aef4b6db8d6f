"""Events fixtures: a state store on SQLite and PostgreSQL, a fast retry schedule,
and an engine running in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.databases import temporary_database
from wrapper.events import outbox, subscriptions, tables
from wrapper.events.delivery import DeliveryConfig, DeliveryEngine
from wrapper.events.envelope import Event, change_event
from wrapper.events.retry import RetryPolicy
from wrapper.events.ssrf import TargetPolicy

from ...conftest import require_backend

LOOPBACK = TargetPolicy.from_entries(["127.0.0.0/8"])
FAST = DeliveryConfig(
    retry=RetryPolicy(schedule=(0.05, 0.1, 0.1), jitter=0.2),
    timeout=5.0,
    concurrency=8,
    poll_interval=0.02,
    allow=LOOPBACK,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    require_backend(request.param)
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[sa.Engine]:
    engine = tables.connect(store_url)
    yield engine
    engine.dispose()


def subscribe(
    store: sa.Engine, url: str, types: Sequence[str] = ("orders.*",), version: str = "v1"
) -> tuple[subscriptions.Subscription, str]:
    return subscriptions.create(
        store, owner="portal", api_version=version, url=url, event_types=types, policy=LOOPBACK
    )


def order_event(key: str, action: str = "updated", **data: object) -> Event:
    return change_event(
        "orders", action, "v1", key, {"order_no": key, **data}, changed_fields=tuple(data)
    )


def publish(store: sa.Engine, *events: Event) -> None:
    """Appends events as capture would, then fans them out."""
    with store.begin() as conn:
        outbox.append(conn, events)
    while outbox.dispatch(store):
        pass


@contextmanager
def running(store: sa.Engine, config: DeliveryConfig = FAST, **options) -> Iterator[DeliveryEngine]:
    engine = DeliveryEngine(store, config, **options)
    stop = threading.Event()
    thread = threading.Thread(target=engine.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield engine
    finally:
        stop.set()
        thread.join(30)
        engine.close()
