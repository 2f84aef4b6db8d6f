"""The subscriptions API: create, list, get, update, delete, only one's own; scopes;
refused targets and event types; the secret shown once; rotation; ping."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from standardwebhooks.webhooks import Webhook

from ...support.tokens import Tokens
from .conftest import MINE, PORTAL_SCOPES, deliver


@pytest.fixture
def portal(tokens: Tokens) -> dict[str, str]:
    return tokens(PORTAL_SCOPES, customer_no=MINE)


def subscribe(client, headers: dict, url: str, types=("orders.*",), **extra) -> dict:
    response = client.post(
        "/v1/webhooks", json={"url": url, "event_types": list(types), **extra}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_crud_of_ones_own_subscriptions(
    hooks_app: Flask, store: sa.Engine, portal: dict, tokens: Tokens
) -> None:
    client = hooks_app.test_client()
    made = subscribe(client, portal, "http://127.0.0.1:9/hook", filter="status=shipped")
    assert made["secret"].startswith("whsec_")
    assert made["api_version"] == "v1" and made["active"] is True
    assert made["event_types"] == ["orders.*"] and made["filter"] == "status=shipped"
    path = f"/v1/webhooks/{made['id']}"

    shown = client.get(path, headers=portal).get_json()
    assert "secret" not in shown and shown["id"] == made["id"]
    listed = client.get("/v1/webhooks", headers=portal).get_json()["items"]
    assert [s["id"] for s in listed] == [made["id"]] and "secret" not in listed[0]

    changed = client.patch(
        path, json={"active": False, "event_types": ["orders.updated"]}, headers=portal
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["active"] is False
    assert changed.get_json()["event_types"] == ["orders.updated"]
    assert changed.get_json()["disabled_reason"] == "disabled by its owner"
    assert changed.get_json()["filter"] == "status=shipped"  # untouched

    other = tokens(PORTAL_SCOPES, customer_no="C0001006")
    for method in ("get", "patch", "delete"):
        answer = getattr(client, method)(path, headers=other, json={"active": True})
        assert answer.status_code == 404, method
        assert answer.content_type == "application/problem+json"
    assert client.get("/v1/webhooks", headers=other).get_json()["items"] == []
    assert client.get(f"/v2/webhooks/{made['id']}", headers=portal).status_code == 404

    assert client.delete(path, headers=portal).status_code == 204
    assert client.get(path, headers=portal).status_code == 404


def test_scope_webhooks_manage_is_needed(hooks_app: Flask, store, tokens: Tokens) -> None:
    client = hooks_app.test_client()
    without = tokens("orders:read order_lines:read customers:read", customer_no=MINE)
    for answer in (
        client.get("/v1/webhooks", headers=without),
        client.post(
            "/v1/webhooks",
            json={"url": "http://127.0.0.1:9/", "event_types": ["orders.*"]},
            headers=without,
        ),
    ):
        assert answer.status_code == 403
        assert answer.get_json()["required_scope"] == "webhooks:manage"
        assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]
    assert client.get("/v1/webhooks").status_code == 401


@pytest.mark.parametrize(
    "url, says",
    [
        ("http://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("http://10.1.2.3/hook", "private"),
        ("http://[::1]:8080/hook", "loopback"),
        ("ftp://example.com/hook", "http://"),
        ("http://user:pw@127.0.0.1/hook", "user name"),
    ],
)
def test_refused_targets_name_the_url(
    hooks_app: Flask, store, portal: dict, url: str, says: str
) -> None:
    answer = hooks_app.test_client().post(
        "/v1/webhooks", json={"url": url, "event_types": ["orders.*"]}, headers=portal
    )
    assert answer.status_code == 400
    problem = answer.get_json()
    assert problem["field"] == "url" and problem["type"] == "/problems/invalid-field"
    assert says in problem["detail"]


@pytest.mark.parametrize(
    "body, field, says",
    [
        ({"event_types": ["orders.*"]}, "url", "Missing"),
        ({"url": "http://127.0.0.1:9/", "event_types": []}, "event_types", "at least one"),
        ({"url": "http://127.0.0.1:9/", "event_types": ["parts.*"]}, "event_types", "parts"),
        ({"url": "http://127.0.0.1:9/", "event_types": ["orders.shipped"]}, "event_types", "created"),
        ({"url": "http://127.0.0.1:9/", "event_types": ["order_lines.*"]}, "event_types", "through"),
        ({"url": "http://127.0.0.1:9/", "event_types": ["*"]}, "event_types", "order_lines"),
        ({"url": "http://127.0.0.1:9/", "event_types": ["orders.*"], "filter": "total=5"}, "filter", "total"),
        ({"url": "http://127.0.0.1:9/", "event_types": ["orders.*"], "filter": "status[gt]=a"}, "filter", "eq"),
        ({"url": "http://127.0.0.1:9/", "event_types": ["orders.*"], "filter": "status=lost"}, "filter", "status"),
        ({"url": "http://127.0.0.1:9/", "event_types": ["orders.*"], "colour": "red"}, "colour", "Unknown"),
    ],
)  # fmt: skip
def test_bad_bodies_name_the_field(
    hooks_app: Flask, store, portal: dict, body: dict, field: str, says: str
) -> None:
    answer = hooks_app.test_client().post("/v1/webhooks", json=body, headers=portal)
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["field"] == field
    assert says in answer.get_json()["detail"]


def test_a_body_too_large_is_refused_before_it_is_read(
    hooks_app: Flask, store, portal: dict
) -> None:
    body = {"url": "http://127.0.0.1:9/", "event_types": ["orders.*"], "filter": "x" * 100_000}
    answer = hooks_app.test_client().post("/v1/webhooks", json=body, headers=portal)
    assert answer.status_code == 413
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["status"] == 413


def test_event_types_of_resources_it_may_not_read(hooks_app: Flask, store, portal: dict) -> None:
    answer = hooks_app.test_client().post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/", "event_types": ["jobs.*"]},
        headers=portal,
    )
    assert answer.status_code == 403
    assert answer.get_json()["required_scope"] == "jobs:read"


def test_secret_shown_once_and_rotation_overlaps(
    hooks_app: Flask, hooks, store, portal: dict, receiver
) -> None:
    client = hooks_app.test_client()
    made = subscribe(client, portal, receiver.url)
    path = f"/v1/webhooks/{made['id']}"
    assert "secret" not in client.get(path, headers=portal).get_json()

    rotated = client.post(f"{path}/secret/rotate", json={"overlap_seconds": 3600}, headers=portal)
    assert rotated.status_code == 200, rotated.get_json()
    new = rotated.get_json()["secret"]
    assert new.startswith("whsec_") and new != made["secret"]
    too_long = client.post(f"{path}/secret/rotate", json={"overlap_seconds": 1e9}, headers=portal)
    assert too_long.status_code == 400 and too_long.get_json()["field"] == "overlap_seconds"

    ping = client.post(f"{path}/ping", headers=portal)
    assert ping.status_code == 202
    deliver(hooks)
    (got,) = receiver.received()
    assert got.event["type"] == "webhook.ping" and got.id == ping.get_json()["event_id"]
    for secret in (made["secret"], new):  # both verify while they overlap
        Webhook(secret).verify(got.body, got.headers)

    log = client.get(f"{path}/deliveries", headers=portal).get_json()["items"]
    assert [(d["event_type"], d["status"]) for d in log] == [("webhook.ping", "succeeded")]
    (attempt,) = log[0]["log"]
    assert attempt["status_code"] == 204 and attempt["latency_ms"] >= 0


def test_rotation_without_overlap_stops_the_old_secret(
    hooks_app: Flask, hooks, store, portal: dict, receiver
) -> None:
    client = hooks_app.test_client()
    made = subscribe(client, portal, receiver.url)
    path = f"/v1/webhooks/{made['id']}"
    new = client.post(f"{path}/secret/rotate", json={"overlap_seconds": 0}, headers=portal)
    client.post(f"{path}/ping", headers=portal)
    deliver(hooks)
    (got,) = receiver.received()
    Webhook(new.get_json()["secret"]).verify(got.body, got.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(made["secret"]).verify(got.body, got.headers)


def test_delivery_ids_beyond_the_databases_integers_name_the_field(
    hooks_app: Flask, store, portal: dict
) -> None:
    client = hooks_app.test_client()
    path = f"/v1/webhooks/{subscribe(client, portal, 'http://127.0.0.1:9/hook')['id']}"
    huge = 10**30
    for listing in ("deliveries", "dead-letters"):
        answer = client.get(f"{path}/{listing}?before={huge}", headers=portal)
        assert answer.status_code == 400, listing
        assert answer.get_json()["parameter"] == "before"
    for ids, field in (([huge], "delivery_ids[0]"), (list(range(1, 1_002)), "delivery_ids")):
        answer = client.post(
            f"{path}/dead-letters/replay", json={"delivery_ids": ids}, headers=portal
        )
        assert answer.status_code == 400
        assert answer.get_json()["field"] == field
    answer = client.post(f"{path}/dead-letters/replay", json={"delivery_ids": [1]}, headers=portal)
    assert answer.status_code == 202 and answer.get_json()["queued"] == 0
