"""Subscriptions and their secrets, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from wrapper.events import subscriptions
from wrapper.events.errors import InvalidSubscription, NotFound
from wrapper.events.queue import claim
from wrapper.events.signing import secret_key, webhook_headers
from wrapper.events.ssrf import TargetPolicy
from wrapper.events.tables import secrets

from .conftest import LOOPBACK, order_event, publish, subscribe

URL = "http://127.0.0.1:9/hook"


def stored_secrets(store: sa.Engine, sub_id: str) -> list[str]:
    query = sa.select(secrets.c.secret).where(secrets.c.subscription_id == sub_id)
    with store.connect() as conn:
        return list(conn.execute(query).scalars())


def test_create_returns_the_secret_once_and_stores_the_subscription(store) -> None:
    sub, secret = subscribe(store, URL, ["orders.*", "jobs.updated", "orders.*"])
    assert secret.startswith("whsec_")
    assert sub.id.startswith("sub_") and sub.owner == "portal" and sub.active
    assert sub.event_types == ("orders.*", "jobs.updated")
    assert subscriptions.get(store, sub.id) == sub
    assert subscriptions.list_for_owner(store, "portal") == [sub]
    assert subscriptions.list_for_owner(store, "someone else") == []


def test_someone_elses_subscription_is_not_found(store) -> None:
    sub, _ = subscribe(store, URL)
    with pytest.raises(NotFound):
        subscriptions.get(store, sub.id, owner="intruder")


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"url": "http://10.0.0.1/x"}, "url"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "http://127.0.0.1/" + "x" * 2000}, "url"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["Orders.*"]}, "event_types"),
        ({"event_types": ["orders.*.x y"]}, "event_types"),
        ({"api_version": "v 1"}, "api_version"),
        ({"filter": "x" * 5000}, "filter"),
    ],
)
def test_bad_fields_are_refused_by_name(store, options: dict, field: str) -> None:
    values = {"owner": "portal", "api_version": "v1", "url": URL, "event_types": ["orders.*"]}
    with pytest.raises(InvalidSubscription) as err:
        subscriptions.create(store, **(values | options), policy=LOOPBACK)
    assert err.value.field == field


def test_loopback_is_refused_without_the_allowlist(store) -> None:
    with pytest.raises(InvalidSubscription, match="loopback"):
        subscriptions.create(
            store, owner="o", api_version="v1", url=URL, event_types=["*"], policy=TargetPolicy()
        )


@pytest.mark.parametrize(
    ("pattern", "event_type", "matches"),
    [
        ("*", "orders.created", True),
        ("orders.*", "orders.deleted", True),
        ("orders.*", "order_lines.created", False),
        ("orders.updated", "orders.updated", True),
        ("orders.updated", "orders.created", False),
        ("*.deleted", "jobs.deleted", True),
        ("orders.*", "orders", False),
    ],
)
def test_type_patterns(pattern: str, event_type: str, matches: bool) -> None:
    assert subscriptions.type_matches(pattern, event_type) is matches


def test_update_and_reactivation(store) -> None:
    sub, _ = subscribe(store, URL)
    off = subscriptions.update(store, sub.id, active=False, policy=LOOPBACK)
    assert not off.active and off.disabled_reason == "disabled by its owner"
    on = subscriptions.update(
        store, sub.id, active=True, event_types=["jobs.*"], filter="status eq held",
        policy=LOOPBACK,
    )  # fmt: skip
    assert on.active and on.disabled_reason is None
    assert on.event_types == ("jobs.*",) and on.filter == "status eq held" and on.url == URL
    with pytest.raises(InvalidSubscription):
        subscriptions.update(store, sub.id, url="http://192.168.0.1/", policy=LOOPBACK)
    with pytest.raises(NotFound):
        subscriptions.update(store, "sub_missing", active=True, policy=LOOPBACK)


def test_rotation_overlaps_then_the_old_secret_expires(store) -> None:
    sub, old = subscribe(store, URL)
    start = time.time()
    new = subscriptions.rotate_secret(store, sub.id, overlap=3600, now=start)
    publish(store, order_event("O1"))
    (due,) = claim(store, "w", 1, lease=1, now=start + 10)
    assert due.secrets == (new, old)
    signed = webhook_headers("evt_1", int(time.time()), b"{}", [secret_key(s) for s in due.secrets])
    assert signed["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        assert Webhook(secret).verify(b"{}", signed) == {}
    (due,) = claim(store, "w", 1, lease=1, now=start + 3601)
    assert due.secrets == (new,)
    only_new = webhook_headers("evt_1", int(time.time()), b"{}", [secret_key(new)])
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(b"{}", only_new)
    newer = subscriptions.rotate_secret(store, sub.id, overlap=0, now=start + 3602)
    assert stored_secrets(store, sub.id) == [newer]  # expired secrets are removed


def test_delete_removes_everything_of_the_subscription(store) -> None:
    sub, _ = subscribe(store, URL)
    subscriptions.delete(store, sub.id)
    with pytest.raises(NotFound):
        subscriptions.get(store, sub.id)
    assert stored_secrets(store, sub.id) == []
    with pytest.raises(NotFound):
        subscriptions.delete(store, sub.id)
