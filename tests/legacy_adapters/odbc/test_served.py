"""The demo database served through ODBC, with authentication, answers every
request exactly as the same database served through SQLAlchemy: filters,
sorts, keyset cursors, expansions, counts and errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from wrapper.app import create_app

from ...support.demo import demo_config
from ...support.tokens import Tokens, auth_section

URLS = [
    "/v1/orders?limit=37",
    "/v1/orders?limit=20&expand=lines,customer",
    "/v1/orders?count=estimate&limit=1",
    "/v1/orders/OTOOLONGKEY123",
    "/v1/jobs?work_center=WC03&status=running&sort=due_date&limit=5",
    "/v1/jobs?status=running&status=held&limit=50",
    "/v1/jobs?sort=-due_date&limit=23&fields=job_id,due_date",
    "/v1/jobs?due_date[gte]=2026-02-01&shipped[isnull]=true&limit=30",
    "/v1/jobs?expand=customer&limit=10",
    "/v1/jobs?job_id=9999999999",
    "/v1/jobs?status[gte]=running",
    "/v1/customers?name[like]=*Ltd&limit=1000",
    "/v1/order_lines/O000000001",
    "/v1/activity_log?limit=25",
]


def _app(url: str, state: Path) -> Flask:
    return create_app(demo_config(url, extra=auth_section(state, "http://127.0.0.1:9/jwks")))


@pytest.fixture(scope="module")
def apps(
    demo_url: str, odbc_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Flask, Flask]]:
    folder = tmp_path_factory.mktemp("served")
    pair = (_app(demo_url, folder / "sql.db"), _app(odbc_url, folder / "odbc.db"))
    yield pair
    _TOKENS.clear()
    for app in pair:
        app.extensions["legacy_wrapper"].close()


EVERYTHING = (
    "orders:read orders:all orders:pricing jobs:read jobs:all_work_centers customers:read "
    "customers:all customers:credit order_lines:read activity_log:read"
)


_TOKENS: dict[int, Tokens] = {}


def _get(
    app: Flask, url: str, scopes: str = EVERYTHING, *, sealed: bool = False, **claims: str
) -> tuple[int, object]:
    tokens = _TOKENS.setdefault(id(app), Tokens(app))
    headers = tokens(scopes, **claims)
    response = app.test_client().get(url, headers=headers)
    body = response.get_json()
    if not sealed and isinstance(body, dict) and body.get("next_cursor"):
        # Cursors are sealed with each deployment's own key: compare what they say.
        body["next_cursor"] = app.extensions["legacy_wrapper"].read.reader.cursors.unseal(
            body["next_cursor"]
        )
    return response.status_code, body


def test_odbc_source_serves_what_the_sqlalchemy_source_serves(apps: tuple[Flask, Flask]) -> None:
    sql_app, odbc_app = apps
    assert odbc_app.extensions["legacy_wrapper"].source.dialect.startswith("odbc:")
    for url in URLS:
        assert _get(odbc_app, url) == _get(sql_app, url), url


def test_row_rules_limit_both_alike(apps: tuple[Flask, Flask]) -> None:
    sql_app, odbc_app = apps
    _, body = _get(sql_app, "/v1/orders?limit=1")
    customer = body["data"][0]["customer_no"]  # type: ignore[index]
    for url in ("/v1/orders?limit=100", "/v1/order_lines?limit=100"):
        got = _get(odbc_app, url, "orders:read order_lines:read", customer_no=customer)
        assert got == _get(sql_app, url, "orders:read order_lines:read", customer_no=customer)
        assert got[0] == 200 and got[1]["data"], url  # type: ignore[index]


def test_cursors_walk_the_same_pages(apps: tuple[Flask, Flask]) -> None:
    sql_app, odbc_app = apps
    pages = {}
    for app in apps:
        url, seen = "/v1/jobs?sort=due_date&limit=40&fields=job_id,due_date", []
        while url:
            status, body = _get(app, url, sealed=True)
            assert status == 200, body
            seen += body["data"]
            cursor = body.get("next_cursor")
            url = (
                f"/v1/jobs?sort=due_date&limit=40&fields=job_id,due_date&cursor={cursor}"
                if cursor
                else ""
            )
        pages[app] = seen
    assert pages[odbc_app] == pages[sql_app] and len(pages[sql_app]) > 40


def test_unauthenticated_requests_are_refused(apps: tuple[Flask, Flask]) -> None:
    assert apps[1].test_client().get("/v1/orders").status_code == 401
