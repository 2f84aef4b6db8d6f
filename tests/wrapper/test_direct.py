"""Resource reads answered without Flask (`wrapper/direct.py`) are the answers Flask
gives: same status, headers and body for every kind of read, credential and error,
and the requests the direct path does not take still reach Flask."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

from wrapper.auth.apikeys import create_api_key
from wrapper.direct import DirectReads
from wrapper.state.store import Grant

from ..support.demo import build_demo, close_app, open_app, write_config
from ..support.tokens import token

WEB = """
public_url: https://api.example.com/plant/
cors: {origins: ["https://portal.example.com"], max_age: 300}
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("direct")
    path = write_config(folder, build_demo(folder), WEB)
    text = path.read_text().replace(  # codes are shared-cached
        "        scopes: codes:read\n", "        scopes: codes:read\n        cache: {max_age: 60}\n"
    )
    path.write_text(text)
    app = open_app(path)
    state = app.extensions["legacy_wrapper"].state
    _, key = create_api_key(
        state, "floor", Grant(("jobs:read", "orders:read"), {"customer_no": "C0001"}), None
    )
    credentials = {
        "none": {},
        "everything": token(app),
        "customer": token(app, "orders:read customers:read jobs:read", customer_no="C0002"),
        "jobs only": token(app, "jobs:read"),
        "api key": {"X-API-Key": key},
        "bad token": {"Authorization": "Bearer not.a.token"},
        "bad scheme": {"Authorization": "Basic abc"},
    }
    yield {"app": app, "credentials": credentials}
    close_app(app)


def _respond(wsgi: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    body = b"".join(wsgi(environ, start_response))
    return seen["status"], sorted(seen["headers"]), body


def _environ(url: str, headers: dict[str, str], method: str = "GET") -> dict[str, Any]:
    path, _, query = url.partition("?")
    return EnvironBuilder(
        path=path, query_string=query, headers=headers, method=method
    ).get_environ()


def _both(app: Flask, url: str, headers: dict[str, str], method: str = "GET") -> tuple[Any, Any]:
    direct = app.wsgi_app
    assert isinstance(direct, DirectReads)
    return (
        _respond(direct, _environ(url, headers, method)),
        _respond(direct.flask, _environ(url, headers, method)),
    )


URLS = [
    "/v1/jobs",
    "/v1/jobs?limit=3",
    "/v1/jobs?limit=2&sort=-due_date&status=running",
    "/v1/jobs?status=running&status=done&limit=5",
    "/v1/jobs?status[in]=running,complete&limit=5&sort=-job_id",
    "/v1/jobs?fields=job_id,status&limit=2",
    "/v1/jobs?limit=0",
    "/v1/jobs?limit=abc",
    "/v1/jobs?nope=1",
    "/v1/jobs?limit=",
    "/v1/jobs?cursor=forged",
    "/v1/jobs?limit=2&count=exact",
    "/v1/jobs?limit=2%26x%3D1",
    "/v1/jobs?status=%FF",
    "/v1/orders?limit=2&expand=customer",
    "/v1/orders?customer_no=C0002&sort=ordered_on&limit=50",
    "/v1/orders/O000000001",
    "/v1/orders/O000000001?expand=customer,lines",
    "/v1/orders/NOPE",
    "/v1/orders/",
    "/v1/orders/%2FLEADING",
    "/v1/orders//LEADING",
    "/v1/orders/a/b",
    "/v1/jobs/0",
    "/v1/jobs/100001",
    "/v1/jobs/100002?fields=status,job_id",
    "/v1/jobs/100001?fields=nope",
    "/v1/jobs/x",
    "/v1/jobs/100001/",
    "/v1/codes",
    "/v1/codes?limit=1",
    "/v1/order_lines?limit=3",
    "/v2/jobs?limit=2",
    "/v2/jobs/100001",
    "/v1/nothing",
    "/v1/nothing/1",
    "/v3/jobs",
    "/v1",
    "/",
]


@pytest.mark.parametrize(
    "who", ["none", "everything", "customer", "jobs only", "api key", "bad token", "bad scheme"]
)
@pytest.mark.parametrize("url", URLS)
def test_the_direct_path_answers_as_flask_does(demo: dict[str, Any], url: str, who: str) -> None:
    direct, flask = _both(demo["app"], url, demo["credentials"][who])
    assert direct == flask


def test_revalidation_and_cache_hits_answer_as_flask_does(demo: dict[str, Any]) -> None:
    app, headers = demo["app"], demo["credentials"]["everything"]
    for url in ("/v1/jobs?limit=2", "/v1/codes", "/v1/jobs/100001"):
        status, fields, _ = _both(app, url, headers)[0]
        etag = dict(fields)["ETag"]
        for tag in (etag, f"W/{etag}", '"other"', f'"other", {etag}', "*"):
            direct, flask = _both(app, url, {**headers, "If-None-Match": tag})
            assert direct == flask, (url, tag)
        assert status == "200 OK"


def test_the_direct_path_answers_304_without_a_body(demo: dict[str, Any]) -> None:
    app, headers = demo["app"], demo["credentials"]["everything"]
    client = app.test_client()
    etag = client.get("/v1/jobs/100001", headers=headers).headers["ETag"]
    revalidated = client.get("/v1/jobs/100001", headers={**headers, "If-None-Match": etag})
    assert revalidated.status_code == 304
    assert revalidated.data == b""


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("HEAD", {}),
        ("OPTIONS", {}),
        ("POST", {}),
        ("GET", {"Origin": "https://portal.example.com"}),
    ],
)
def test_other_requests_go_to_flask(
    demo: dict[str, Any], method: str, headers: dict[str, str]
) -> None:
    app = demo["app"]
    auth = demo["credentials"]["everything"]
    direct, flask = _both(app, "/v1/jobs?limit=1", {**auth, **headers}, method)
    assert direct[0] == flask[0] and direct[2] == flask[2]
    if "Origin" in headers:
        assert dict(direct[1])["Access-Control-Allow-Origin"] == headers["Origin"]


def test_non_ascii_keys_and_arguments_reach_flask(demo: dict[str, Any]) -> None:
    app = demo["app"]
    auth = demo["credentials"]["everything"]
    for url in (f"/v1/orders/{quote('Ü')}", f"/v1/jobs?status={quote('läuft')}"):
        environ = _environ(url, auth)
        direct = app.wsgi_app
        assert _respond(direct, environ) == _respond(direct.flask, _environ(url, auth))


def test_an_unexpected_error_is_a_problem_from_flask(
    demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = demo["app"]
    reader = app.extensions["legacy_wrapper"].read.reader

    def broken(*_args: Any) -> Any:
        raise RuntimeError("SELECT secret FROM nowhere")

    monkeypatch.setattr(reader, "item", broken)
    response = app.test_client().get("/v1/jobs/100001", headers=demo["credentials"]["everything"])
    assert response.status_code == 500
    assert response.content_type == "application/problem+json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "secret" not in response.get_data(as_text=True)
    assert response.get_json()["instance"] == "/v1/jobs/100001"


def test_rate_limited_apps_read_through_flask(tmp_path: Path) -> None:
    limits = "\nlimits: {default: 1000/minute}\n"
    app = open_app(write_config(tmp_path, build_demo(tmp_path, orders=5), limits))
    try:
        assert not isinstance(app.wsgi_app, DirectReads)
        response = app.test_client().get("/v1/jobs?limit=1", headers=token(app))
        assert response.status_code == 200
        assert "RateLimit" in response.headers
    finally:
        close_app(app)
