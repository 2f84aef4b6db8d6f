"""The customer portal cannot read, filter, sort, embed or page its way into another
customer's rows, on SQLite, PostgreSQL and MariaDB; hidden fields stay hidden."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from ...support.tokens import Tokens

MINE = "C0001005"
ORDHDR = sa.table("ORDHDR", sa.column("CUST_NO"))  # quoted: PostgreSQL folds bare names


@pytest.fixture(scope="module")
def other(legacy: sa.Engine) -> str:
    with legacy.connect() as conn:
        query = sa.select(sa.func.min(ORDHDR.c.CUST_NO)).where(ORDHDR.c.CUST_NO != MINE)
        return conn.execute(query).scalar_one().strip()


@pytest.fixture(scope="module")
def counts(legacy: sa.Engine) -> dict[str, int]:
    with legacy.connect() as conn:
        query = sa.select(ORDHDR.c.CUST_NO, sa.func.count()).group_by(ORDHDR.c.CUST_NO)
        return {c.strip(): n for c, n in conn.execute(query)}


@pytest.fixture
def portal(tokens: Tokens) -> dict[str, str]:
    return tokens("orders:read customers:read", customer_no=MINE)


def orders(client, url: str, headers: dict) -> list[dict]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["data"]


def test_lists_filters_and_sorts_stay_inside(
    auth_app: Flask, portal: dict, other: str, counts: dict
) -> None:
    client = auth_app.test_client()
    assert counts[MINE] > 0 and counts[other] > 0
    for url in (
        "/v1/orders?limit=1000",
        "/v1/orders?limit=1000&sort=-customer_no",
        "/v1/orders?limit=1000&sort=customer_no,-ordered_on",
        f"/v1/orders?customer_no[in]={MINE},{other}&limit=1000",
        "/v1/orders?customer_no[startswith]=C&limit=1000",
        "/v2/orders?limit=1000",
    ):
        data = orders(client, url, portal)
        assert {o["customer_no"] for o in data} == {MINE}, url
        assert len(data) == counts[MINE], url
    for url in (
        f"/v1/orders?customer_no={other}",
        f"/v1/orders?customer_no[ne]={MINE}",
        f"/v1/customers?customer_no={other}",
        f"/v2/orders?customer_no={other}",
    ):
        assert orders(client, url, portal) == [], url
    body = client.get("/v1/orders?count=exact&limit=1", headers=portal).get_json()
    assert body["total_count"] == counts[MINE]


def test_paging_stays_inside(auth_app: Flask, portal: dict, tokens: Tokens, counts: dict) -> None:
    client = auth_app.test_client()
    seen, url = [], "/v1/orders?limit=3&sort=ordered_on"
    while url:
        body = client.get(url, headers=portal).get_json()
        seen += body["data"]
        cursor = body["next_cursor"]
        url = f"/v1/orders?limit=3&sort=ordered_on&cursor={cursor}" if cursor else ""
    assert len(seen) == counts[MINE] and {o["customer_no"] for o in seen} == {MINE}
    # a cursor taken from a caller who sees every order still only pages my rows
    everyone = tokens("orders:read orders:all")
    cursor = client.get("/v1/orders?limit=1", headers=everyone).get_json()["next_cursor"]
    response = client.get(f"/v1/orders?limit=1000&cursor={cursor}", headers=portal)
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert {o["customer_no"] for o in response.get_json()["data"]} <= {MINE}


def test_other_customers_items_are_not_found(
    auth_app: Flask, portal: dict, tokens: Tokens, other: str
) -> None:
    client = auth_app.test_client()
    everyone = tokens("orders:read orders:all")
    theirs = orders(client, f"/v1/orders?customer_no={other}&limit=1", everyone)[0]["order_no"]
    mine = orders(client, "/v1/orders?limit=1", portal)[0]["order_no"]
    assert client.get(f"/v1/orders/{mine}", headers=portal).status_code == 200
    hidden = client.get(f"/v1/orders/{theirs}", headers=portal)
    missing = client.get("/v1/orders/O999999999", headers=portal)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json()["type"] == missing.get_json()["type"]
    assert client.get(f"/v1/customers/{other}", headers=portal).status_code == 404
    assert client.get(f"/v2/orders/{theirs}", headers=portal).status_code == 404


def test_embedded_relations_stay_inside(auth_app: Flask, portal: dict) -> None:
    client = auth_app.test_client()
    customers = orders(client, "/v1/customers?expand=orders&limit=1000", portal)
    assert [c["customer_no"] for c in customers] == [MINE]
    assert {o["customer_no"] for o in customers[0]["orders"]} == {MINE}
    for o in orders(client, "/v1/orders?expand=customer&limit=1000", portal):
        assert o["customer"]["customer_no"] == MINE
        assert "credit_limit" not in o["customer"]
    # order_lines needs its own scope: the caller is told so, not that lines do not exist
    response = client.get("/v1/orders?expand=lines", headers=portal)
    assert response.status_code == 400 and response.get_json()["parameter"] == "expand"
    detail = response.get_json()["detail"]
    assert "may not expand 'lines'" in detail and "(relations you may expand: customer)" in detail
    assert "total" not in detail and "unit_price" not in detail  # hidden fields stay unnamed
    missing = client.get("/v1/orders?expand=invoices", headers=portal).get_json()["detail"]
    assert missing == "no relation 'invoices' (relations: customer)"


def test_fields_needing_a_scope_are_hidden(auth_app: Flask, portal: dict, tokens: Tokens) -> None:
    client = auth_app.test_client()
    data = orders(client, "/v1/orders?limit=5", portal)
    assert data and all("total" not in o for o in data)
    assert all("total_amount" not in o for o in orders(client, "/v2/orders?limit=5", portal))
    for args in ("fields=order_no,total", "total[gte]=0", "sort=total", "total=1"):
        response = client.get(f"/v1/orders?{args}", headers=portal)
        assert response.status_code == 400, args
        assert response.get_json()["type"] == "/problems/invalid-parameter"
    pricing = tokens("orders:read orders:pricing", customer_no=MINE)
    assert all("total" in o for o in orders(client, "/v1/orders?limit=5", pricing))
    assert orders(client, "/v1/orders?fields=order_no,total&limit=1", pricing)


def test_a_token_without_the_claim_sees_nothing(auth_app: Flask, tokens: Tokens) -> None:
    client = auth_app.test_client()
    no_claim = tokens("orders:read customers:read")
    for url in ("/v1/orders", "/v1/orders/O000000001", "/v1/customers", "/v2/orders"):
        response = client.get(url, headers=no_claim)
        assert response.status_code == 403, url
        assert response.get_json()["type"] == "/problems/forbidden"
    wrong_type = tokens("orders:read", customer_no=["C0001005", {"x": 1}])
    assert client.get("/v1/orders", headers=wrong_type).status_code == 403


def test_floor_supervisor_sees_one_work_centre(auth_app: Flask, tokens: Tokens) -> None:
    client = auth_app.test_client()
    supervisor = tokens("jobs:read", work_center="WC03")
    jobs = orders(client, "/v1/jobs?limit=1000", supervisor)
    assert jobs and {j["work_center"] for j in jobs} == {"WC03"}
    assert orders(client, "/v1/jobs?work_center=WC01", supervisor) == []
    assert {j["work_center"] for j in orders(client, "/v2/jobs?limit=1000", supervisor)} == {"WC03"}
    response = client.get("/v1/jobs?expand=order", headers=supervisor)
    assert response.status_code == 400 and response.get_json()["parameter"] == "expand"
    assert "may not expand 'order'" in response.get_json()["detail"]
    dashboard = tokens("jobs:read jobs:all_work_centers")
    assert len({j["work_center"] for j in orders(client, "/v1/jobs?limit=1000", dashboard)}) > 1
    several = tokens("jobs:read", work_center=["WC01", "WC03"])
    centres = {j["work_center"] for j in orders(client, "/v1/jobs?limit=1000", several)}
    assert centres == {"WC01", "WC03"}
