"""Each subscriber receives only what its owner could read, with the demo's personas:
a customer portal's `orders.*` gets its own customer's orders without prices, an
update moving an order out of its view arrives as a deletion, and the plant
auditor gets everything. Event data are real rows rendered from each backend."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from standardwebhooks.webhooks import Webhook

from wrapper.demo import PERSONAS
from wrapper.events.envelope import change_event, loads

from ...support.tokens import Tokens
from .conftest import MINE, deliver

PORTAL = next(p for p in PERSONAS if p[0].startswith("customer portal"))
ORDHDR = sa.table("ORDHDR", sa.column("CUST_NO"))


@pytest.fixture(scope="module")
def theirs(legacy: sa.Engine) -> str:
    with legacy.connect() as conn:
        query = sa.select(sa.func.min(ORDHDR.c.CUST_NO)).where(ORDHDR.c.CUST_NO != MINE)
        return conn.execute(query).scalar_one().strip()


def portal(tokens: Tokens, customer: str) -> dict[str, str]:
    _, scopes, claims, _ = PORTAL
    return tokens(scopes, **(claims | {"customer_no": customer}))


def auditor(tokens: Tokens, hooks_app: Flask) -> dict[str, str]:
    from wrapper.auth.guard import declared_scopes

    return tokens(" ".join(declared_scopes(hooks_app.extensions["legacy_wrapper"].mapping)))


def rows(client, headers: dict, url: str) -> list[dict[str, Any]]:
    answer = client.get(url, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return loads(answer.get_data())["data"]  # decimals stay exact, as in events


def subscribe(client, headers: dict, url: str, types: list[str], **extra: Any) -> dict:
    answer = client.post(
        "/v1/webhooks", json={"url": url, "event_types": types, **extra}, headers=headers
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def received_by(receiver, secret: str, path: str) -> list[dict]:
    """The events the receiver got at `path`, each verified with standardwebhooks."""
    events = []
    for got in receiver.received():
        if got.path == path:
            Webhook(secret).verify(got.body, got.headers)
            events.append(got.event)
    return sorted(events, key=lambda e: e["sequence"])


def test_customer_portals_see_their_own_orders_and_a_move_out_as_deletion(
    hooks_app: Flask, hooks, store, tokens: Tokens, receiver, theirs: str
) -> None:
    client = hooks_app.test_client()
    everything = auditor(tokens, hooks_app)
    mine = rows(client, everything, f"/v1/orders?customer_no={MINE}&limit=2")
    other = rows(client, everything, f"/v1/orders?customer_no={theirs}&limit=1")[0]
    assert "total" in mine[0]  # the auditor sees prices; the portals must not
    a = subscribe(client, portal(tokens, MINE), f"{receiver.url}/a", ["orders.*"])
    b = subscribe(client, portal(tokens, theirs), f"{receiver.url}/b", ["orders.*"])
    audit = subscribe(client, everything, f"{receiver.url}/audit", ["*"])

    first, second = mine
    moved = first | {"customer_no": theirs}
    deliver(
        hooks,
        change_event("orders", "created", "v1", first["order_no"], first),
        change_event("orders", "created", "v1", other["order_no"], other),
        change_event(
            "orders", "updated", "v1", second["order_no"], second | {"status": "closed"},
            changed_fields=("status", "total"), previous={"customer_no": MINE},
        ),
        change_event(
            "orders", "updated", "v1", second["order_no"], second | {"total": 1},
            changed_fields=("total",), previous={"customer_no": MINE},
        ),
        change_event(
            "orders", "updated", "v1", first["order_no"], moved,
            changed_fields=("customer_no",), previous={"customer_no": MINE},
        ),
    )  # fmt: skip

    got_a = received_by(receiver, a["secret"], "/hook/a")
    assert [(e["type"], e["subject"]) for e in got_a] == [
        ("orders.created", first["order_no"]),
        ("orders.updated", second["order_no"]),  # the price-only update is not sent
        ("orders.deleted", first["order_no"]),  # moved to another customer
    ]
    created, updated, deleted = got_a
    assert created["data"] == {k: v for k, v in first.items() if k != "total"}
    assert updated["changedfields"] == "status" and "total" not in updated["data"]
    assert deleted["data"] == {"order_no": first["order_no"]}
    assert "changedfields" not in deleted

    got_b = received_by(receiver, b["secret"], "/hook/b")
    assert [(e["type"], e["subject"]) for e in got_b] == [
        ("orders.created", other["order_no"]),
        ("orders.updated", first["order_no"]),  # moved into its view
    ]
    assert all(e["data"]["customer_no"] == theirs and "total" not in e["data"] for e in got_b)

    got_audit = received_by(receiver, audit["secret"], "/hook/audit")
    assert len(got_audit) == 5 and all("total" in e["data"] for e in got_audit)


def test_a_filter_selects_among_visible_rows(
    hooks_app: Flask, hooks, store, tokens: Tokens, receiver, theirs: str
) -> None:
    client = hooks_app.test_client()
    everything = auditor(tokens, hooks_app)
    mine = rows(client, everything, f"/v1/orders?customer_no={MINE}&limit=1")[0]
    other = rows(client, everything, f"/v1/orders?customer_no={theirs}&limit=1")[0]
    shipped = subscribe(
        client, portal(tokens, MINE), receiver.url, ["orders.updated"],
        filter="status[in]=shipped,closed",
    )  # fmt: skip
    deliver(
        hooks,
        change_event("orders", "updated", "v1", "x", mine | {"status": "open"}),
        change_event("orders", "updated", "v1", "y", mine | {"status": "shipped"}),
        change_event("orders", "updated", "v1", "z", other | {"status": "shipped"}),
        change_event("orders", "created", "v1", "w", mine | {"status": "shipped"}),
    )
    got = received_by(receiver, shipped["secret"], "/hook")
    assert [(e["type"], e["subject"]) for e in got] == [("orders.updated", "y")]


def test_a_v2_subscription_receives_v2_events(
    hooks_app: Flask, hooks, store, tokens: Tokens, receiver
) -> None:
    client = hooks_app.test_client()
    headers = portal(tokens, MINE)
    answer = client.post(
        "/v2/webhooks", json={"url": receiver.url, "event_types": ["orders.*"]}, headers=headers
    )
    assert answer.status_code == 201, answer.get_json()
    v2 = answer.get_json()
    assert v2["api_version"] == "v2"
    v1 = {"order_no": "O1", "customer_no": MINE, "status": "open"}
    v2_row = {"order_no": "O1", "customer_no": MINE, "status": "open", "total_amount": 5}
    deliver(
        hooks,
        change_event("orders", "created", "v1", "O1", v1),
        change_event("orders", "created", "v2", "O1", v2_row),
    )
    (got,) = received_by(receiver, v2["secret"], "/hook")
    assert got["source"].endswith("/v2/orders")
    assert got["data"] == {"order_no": "O1", "customer_no": MINE, "status": "open"}


def test_a_filtered_subscription_still_receives_deletions(
    hooks_app: Flask, hooks, store, tokens: Tokens, receiver
) -> None:
    """A deletion carries the key (and what the row rules compare), not the fields a
    filter names: the filter cannot be checked on it, and dropping it would leave the
    subscriber holding a row that no longer exists. Row rules still decide."""
    client = hooks_app.test_client()
    everything = auditor(tokens, hooks_app)
    mine = rows(client, everything, f"/v1/orders?customer_no={MINE}&limit=1")[0]
    shipped = subscribe(
        client, portal(tokens, MINE), receiver.url, ["orders.*"], filter="status=shipped"
    )
    key = {"order_no": mine["order_no"]}
    deliver(
        hooks,
        change_event("orders", "created", "v1", "a", mine | {"status": "open"}),
        change_event("orders", "deleted", "v1", "b", key, previous={"customer_no": MINE}),
        change_event("orders", "deleted", "v1", "c", key, previous={"customer_no": "C0"}),
    )
    got = received_by(receiver, shipped["secret"], "/hook")
    assert [(e["type"], e["subject"]) for e in got] == [("orders.deleted", "b")]
    assert got[0]["data"] == key
