"""What browsers see: protective headers everywhere, personal answers never stored,
CORS only for the configured origins, links that never come from `Host`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from ..support.demo import build_demo, close_app, open_app, write_config
from ..support.tokens import token

PORTAL = "https://portal.example.com"
V2_APP = "https://v2.example.com:8443"
WEB = f"""
public_url: https://api.example.com/plant/
cors: {{origins: ["{PORTAL}"], max_age: 300}}
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("browser")
    path = write_config(folder, build_demo(folder), WEB)
    text = path.read_text()
    text = text.replace(  # codes are shared-cached; v2 has its own origins and public URL
        "        scopes: codes:read\n", "        scopes: codes:read\n        cache: {max_age: 5}\n"
    ).replace(
        "  v2:\n    title: Plant API\n",
        f'  v2:\n    title: Plant API\n    public_url: https://v2.example.com\n    cors: {{origins: ["{V2_APP}"]}}\n',
    )
    path.write_text(text)
    app = open_app(path)
    yield app, token(app)
    close_app(app)


PAGES = [
    "/v1/jobs",  # 401 problem
    "/v1/docs",
    "/v1/openapi.json",
    "/",
    "/livez",
    "/nothing",
    "/_assets/swagger-ui/swagger-ui.css",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_response_is_protected(demo: tuple[Flask, dict[str, str]], url: str) -> None:
    app, _ = demo
    response = app.test_client().get(url)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_personal_answers_are_not_stored(demo: tuple[Flask, dict[str, str]]) -> None:
    app, headers = demo
    client = app.test_client()
    for url in ("/v1/jobs?limit=2", "/v1/orders/O000000001", "/v1/jobs/0", "/v1/jobs?nope=1"):
        response = client.get(url, headers=headers)
        assert response.headers["Cache-Control"] == "private, no-store", url
    etag = client.get("/v1/jobs?limit=2", headers=headers).headers["ETag"]
    revalidated = client.get("/v1/jobs?limit=2", headers={**headers, "If-None-Match": etag})
    assert revalidated.status_code == 304
    assert revalidated.headers["Cache-Control"] == "private, no-store"
    # a cached resource keeps its own lifetime, private to the caller
    assert client.get("/v1/codes", headers=headers).headers["Cache-Control"] == (
        "private, max-age=5"
    )
    assert "Cache-Control" not in client.get("/v1/openapi.json").headers


def test_links_come_from_the_public_url_never_from_host(demo: tuple[Flask, dict[str, str]]) -> None:
    app, headers = demo
    client = app.test_client()
    for version, base in (
        ("v1", "https://api.example.com/plant"),
        ("v2", "https://v2.example.com"),
    ):
        response = client.get(
            f"/{version}/jobs?limit=2", headers={**headers, "Host": "evil.example"}
        )
        link = response.headers["Link"]
        assert link.startswith(f"<{base}/{version}/jobs?limit=2&cursor="), link
        assert "evil.example" not in response.get_data(as_text=True) + link


def test_relative_links_without_a_public_url(tmp_path: Path) -> None:
    app = open_app(
        write_config(tmp_path, build_demo(tmp_path, orders=30), auth=False), no_auth=True
    )
    try:
        response = app.test_client().get("/v1/jobs?limit=2", headers={"Host": "evil.example"})
        assert response.headers["Link"].startswith("</v1/jobs?limit=2&cursor=")
        assert response.headers["Link"].endswith('>; rel="next"')
        assert (
            "Access-Control-Allow-Origin"
            not in app.test_client().get("/v1/jobs", headers={"Origin": PORTAL}).headers
        )
    finally:
        close_app(app)


def preflight(app: Flask, url: str, origin: str, headers: str = "authorization, x-api-key"):  # type: ignore[no-untyped-def]
    return app.test_client().options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": headers,
        },
    )


def test_cors_preflight_allows_credentials_headers_for_allowed_origins(
    demo: tuple[Flask, dict[str, str]],
) -> None:
    app, _ = demo
    response = preflight(app, "/v1/jobs", PORTAL)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"authorization", "x-api-key"} <= allowed
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Max-Age"] == "300"
    assert "Origin" in response.headers.get("Vary", "")
    assert "Access-Control-Allow-Credentials" not in response.headers  # no cookies
    # another origin, a version with its own list, and the token endpoint get nothing
    for url, origin in (
        ("/v1/jobs", "https://evil.example"),
        ("/v1/jobs", PORTAL + ".evil.example"),
        ("/v2/jobs", PORTAL),
        ("/oauth/token", PORTAL),
    ):
        assert "Access-Control-Allow-Origin" not in preflight(app, url, origin).headers, (
            url,
            origin,
        )
    assert preflight(app, "/v2/jobs", V2_APP).headers["Access-Control-Allow-Origin"] == V2_APP


def test_cors_responses_expose_paging_cache_and_limit_headers(
    demo: tuple[Flask, dict[str, str]],
) -> None:
    app, headers = demo
    client = app.test_client()
    response = client.get("/v1/jobs?limit=2", headers={**headers, "Origin": PORTAL})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL
    exposed = {
        h.strip().lower() for h in response.headers["Access-Control-Expose-Headers"].split(",")
    }
    assert {"link", "etag", "ratelimit", "ratelimit-policy", "retry-after"} <= exposed
    assert "Origin" in response.headers["Vary"]
    assert "Origin" in client.get("/v1/jobs?limit=2", headers=headers).headers["Vary"]
    denied = client.get("/v1/jobs?limit=2", headers={"Origin": PORTAL})  # 401: readable too
    assert denied.status_code == 401
    assert denied.headers["Access-Control-Allow-Origin"] == PORTAL
