"""Who owns a subscription (a token's client, an API key), the `webhooks:` section,
and a state database created before subscriptions kept their owner's grant."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from wrapper.auth.apikeys import create_api_key
from wrapper.config import Config, ConfigError
from wrapper.events import outbox, subscriptions, tables
from wrapper.events.envelope import change_event
from wrapper.events.ssrf import TargetPolicy
from wrapper.state.store import Grant

from ...support.demo import demo_config
from ...support.tokens import Tokens
from .conftest import MINE, PORTAL_SCOPES

BODY = {"url": "http://127.0.0.1:9/hook", "event_types": ["orders.*"]}


def test_an_api_key_owns_its_subscriptions(hooks_app: Flask, store, tokens: Tokens) -> None:
    state = hooks_app.extensions["legacy_wrapper"].state
    grant = Grant(tuple(PORTAL_SCOPES.split()), {"customer_no": MINE})
    _, key = create_api_key(state, "portal backend", grant, expires_at=None)
    client = hooks_app.test_client()
    made = client.post("/v1/webhooks", json=BODY, headers={"X-API-Key": key})
    assert made.status_code == 201, made.get_json()
    stored = subscriptions.get(store, made.get_json()["id"])
    assert stored.owner.startswith("key:")
    assert stored.owner_grant == {"scopes": sorted(grant.scopes), "claims": {"customer_no": MINE}}
    same_claims_by_token = tokens(PORTAL_SCOPES, customer_no=MINE)
    assert client.get(f"/v1/webhooks/{stored.id}", headers=same_claims_by_token).status_code == 404


def test_the_webhooks_section() -> None:
    def parse_config(extra: str = "") -> Config:
        return demo_config("sqlite:///plant.db", extra="\n" + extra)

    assert parse_config().webhooks.allow == ()
    config = parse_config("webhooks: {allow: [127.0.0.1, 10.0.0.0/8, hooks.lan]}")
    policy = config.webhooks.policy
    assert isinstance(policy, TargetPolicy) and "hooks.lan" in policy.hosts
    for bad, says in (
        ("webhooks: {allow: [' ']}", "webhooks.allow"),
        ("webhooks: {allow: 3}", "webhooks.allow"),
        ("webhooks: {secret_overlap: -1}", "webhooks.secret_overlap"),
        ("webhooks: {secret_overlap: 900000}", "exceeds max_secret_overlap"),
        ("webhooks: {colour: red}", "webhooks.colour"),
        ("webhooks: [1]", "webhooks"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_config(bad)
        assert says in str(err.value), bad


def test_an_older_state_database_gets_the_grant_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = sa.create_engine(url)
    tables.metadata.create_all(engine)
    with engine.begin() as conn:  # as the tables were before
        conn.exec_driver_sql("ALTER TABLE lw_event_subscriptions DROP COLUMN owner_grant")
    engine.dispose()
    engine = tables.connect(url)
    try:
        sub, _ = subscriptions.create(
            engine, owner="o", api_version="v1", url="http://127.0.0.1:9/",
            event_types=["orders.*"], owner_grant={"scopes": ["orders:read"], "claims": {}},
            policy=TargetPolicy.from_entries(["127.0.0.1"]),
        )  # fmt: skip
        assert subscriptions.get(engine, sub.id).owner_grant == {
            "scopes": ["orders:read"], "claims": {}
        }  # fmt: skip
    finally:
        engine.dispose()


def test_an_older_state_database_gets_the_previous_column_of_the_outbox(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = sa.create_engine(url)
    tables.metadata.create_all(engine)
    with engine.begin() as conn:  # as the outbox was before events carried `previous`
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_lw_event_outbox_undispatched")
        conn.exec_driver_sql("ALTER TABLE lw_event_outbox DROP COLUMN previous")
    engine.dispose()
    engine = tables.connect(url)
    try:
        moved = change_event("orders", "updated", "v1", "O1", {"order_no": "O1"},
                             previous={"customer_no": "C1"})  # fmt: skip
        with engine.begin() as conn:
            outbox.append(conn, [moved])
        with engine.connect() as conn:
            (row,) = conn.execute(tables.outbox.select())
        assert outbox._event(row).previous == {"customer_no": "C1"}
    finally:
        engine.dispose()


def test_without_auth_subscriptions_belong_to_anonymous_and_see_everything(client) -> None:
    made = client.post("/v1/webhooks", json=BODY | {"url": "http://8.8.8.8/hook"})
    assert made.status_code == 201, made.get_json()
    hooks = client.application.extensions["legacy_wrapper"].webhooks
    stored = subscriptions.get(hooks.engine, made.get_json()["id"])
    assert stored.owner == "anonymous" and stored.owner_grant is None
    assert [s["id"] for s in client.get("/v1/webhooks").get_json()["items"]] == [stored.id]
    assert client.delete(f"/v1/webhooks/{stored.id}").status_code == 204
