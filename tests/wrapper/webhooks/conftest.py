"""The demo app with auth and the subscriptions API on every backend, a receiver on
loopback, and the steps of a delivery (dispatch, then the engine until idle)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from wrapper.app import create_app
from wrapper.demo import ensure_state_key
from wrapper.events import outbox
from wrapper.events.delivery import DeliveryConfig, DeliveryEngine
from wrapper.events.envelope import Event
from wrapper.events.retry import RetryPolicy
from wrapper.events.ssrf import TargetPolicy
from wrapper.events.tables import OPEN, deliveries
from wrapper.webhooks import Webhooks

from ...support.demo import demo_config
from ...support.tokens import AUDIENCE, ISSUER, Tokens
from ..events.receiver import Receiver

PORTAL_SCOPES = "orders:read order_lines:read customers:read webhooks:manage"
MINE = "C0001005"  # the demo's customer portal
FAST = DeliveryConfig(
    retry=RetryPolicy(schedule=(0.05, 0.05), jitter=0.2),
    timeout=5.0,
    concurrency=4,
    poll_interval=0.02,
    allow=TargetPolicy.from_entries(["127.0.0.0/8"]),
)


def auth_and_webhooks(state: Path) -> str:
    key_file = ensure_state_key(state.parent)
    return f"""
auth:
  audience: {AUDIENCE}
  state: "{state}"
  api_key_cache_seconds: 0
  server: {{issuer: "{ISSUER}", token_lifetime: 600, state_key_file: "{key_file}"}}
webhooks:
  allow: [127.0.0.0/8]
"""


@pytest.fixture(scope="session")
def hooks_app(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    state = tmp_path_factory.mktemp("hooks") / "state.db"
    app = create_app(demo_config(demo_url, extra=auth_and_webhooks(state)))
    yield app
    app.extensions["legacy_wrapper"].close()


@pytest.fixture(scope="session")
def tokens(hooks_app: Flask) -> Tokens:
    return Tokens(hooks_app)


@pytest.fixture
def hooks(hooks_app: Flask) -> Webhooks:
    found = hooks_app.extensions["legacy_wrapper"].webhooks
    assert found is not None
    return found


@pytest.fixture
def store(hooks: Webhooks) -> Iterator[sa.Engine]:
    """The events tables, emptied after each test (the app is shared)."""
    yield hooks.engine
    from wrapper.events.tables import metadata

    with hooks.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def deliver(hooks: Webhooks, *events: Event) -> int:
    """Appends events as capture would, fans them out as each subscriber may see
    them, and sends until nothing is due; returns the attempts made."""
    if events:
        with hooks.engine.begin() as conn:
            outbox.append(conn, events)
    while outbox.dispatch(hooks.engine, hooks.visibility.decide):
        pass
    engine = DeliveryEngine(hooks.engine, FAST)
    made = 0
    try:
        for _ in range(200):  # retries come due a few hundredths of a second apart
            made += engine.run(until_idle=True)
            with hooks.engine.connect() as conn:
                waiting = conn.execute(
                    sa.select(sa.func.count()).where(deliveries.c.status.in_(OPEN))
                ).scalar_one()
            if not waiting:
                return made
            time.sleep(0.02)
        raise AssertionError("deliveries still open")
    finally:
        engine.close()
