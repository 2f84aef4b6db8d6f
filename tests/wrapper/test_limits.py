"""Rate limits per client and tier, the global ceiling, IETF headers and 429 problems.

Callers are constructed here (`identify` reads them from test-only headers), so
the limiter is tested apart from authentication (`auth/test_limits_by_client.py`
tests them together).
"""

from __future__ import annotations

import pytest
from flask import Flask, request

from wrapper.app import create_app
from wrapper.auth.principal import Principal

from ..support.demo import demo_config


def identify() -> Principal | None:
    """Names the caller from test headers (authentication's job in production)."""
    scopes = request.headers.get("X-Test-Scopes")
    subject = request.headers.get("X-Test-Identity")
    if subject is None and scopes is None:
        return None
    return Principal(subject or "someone", frozenset(scopes.split(",")) if scopes else frozenset())


LIMITS = """
limits:
  strategy: {strategy}
  default: 3/minute
  global: {ceiling}/minute
  scopes: {{dashboards: 5/minute, reports: 4/minute}}
  clients: {{vip: 7/minute}}
"""


def limited_app(url: str, strategy: str = "fixed-window", ceiling: int = 1000) -> Flask:
    from wrapper.demo import MAPPING

    text = MAPPING.read_text(encoding="utf-8").replace(
        "\nversions:", LIMITS.format(strategy=strategy, ceiling=ceiling) + "\nversions:", 1
    )
    return create_app(demo_config(url, text), no_auth=True, identify=identify)


def admitted(app: Flask, n: int, headers: dict[str, str] | None = None, ip: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    client = app.test_client()
    responses = [
        client.get("/v1/jobs?limit=1", headers=headers or {}, environ_base={"REMOTE_ADDR": ip})
        for _ in range(n)
    ]
    return [r.status_code for r in responses].count(200), responses


@pytest.mark.parametrize("strategy", ["fixed-window", "moving-window"])
def test_each_tier_admits_its_rate(demo_url: str, strategy: str) -> None:
    app = limited_app(demo_url, strategy)
    assert admitted(app, 6)[0] == 3  # anonymous: default, by IP
    assert admitted(app, 6, ip="10.0.0.2")[0] == 3  # another IP counts alone
    assert admitted(app, 9, {"X-Test-Identity": "vip"})[0] == 7
    assert admitted(app, 9, {"X-Test-Identity": "u1", "X-Test-Scopes": "reports"})[0] == 4
    both = {"X-Test-Identity": "u2", "X-Test-Scopes": "reports,dashboards"}
    assert admitted(app, 9, both)[0] == 5  # the most generous scope wins
    # An identity is counted by itself, not by the address it comes from.
    assert admitted(app, 6, {"X-Test-Identity": "u3"}, ip="10.0.0.1")[0] == 3


def test_ietf_headers_on_every_response_and_a_429_problem(demo_url: str) -> None:
    app = limited_app(demo_url)
    _, responses = admitted(app, 4)
    first, last = responses[0], responses[-1]
    assert first.headers["RateLimit-Policy"] == '"client";q=3;w=60, "global";q=1000;w=60'
    assert first.headers["RateLimit"].startswith('"client";r=2;t=')
    assert 1 <= int(first.headers["RateLimit"].rsplit("t=", 1)[1]) <= 60
    assert responses[2].headers["RateLimit"].startswith('"client";r=0;t=')
    assert last.status_code == 429
    assert last.mimetype == "application/problem+json"
    body = last.get_json()
    assert body["type"] == "/problems/rate-limited" and body["status"] == 429
    assert 1 <= int(last.headers["Retry-After"]) <= 60
    assert last.headers["RateLimit"].startswith('"client";r=0;t=')
    # Probes and metrics are never limited.
    client = app.test_client()
    for _ in range(5):
        assert client.get("/readyz", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'lw_rate_limited_total{limit="client"} 1.0' in metrics


def test_the_global_ceiling_holds_across_clients(demo_url: str) -> None:
    app = limited_app(demo_url, ceiling=5)
    total = sum(admitted(app, 3, ip=f"10.0.1.{i}")[0] for i in range(4))
    assert total == 5
    _, [refused] = admitted(app, 1, ip="10.0.1.99")
    assert refused.status_code == 429 and "global" in refused.get_json()["detail"]


def test_without_a_limits_section_nothing_is_limited(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/v1/jobs?limit=1")
    assert "RateLimit" not in response.headers and "RateLimit-Policy" not in response.headers


def test_cors_preflights_are_not_counted(demo_url: str) -> None:
    """A browser sends OPTIONS before each real request: only the request counts."""
    app = limited_app(demo_url)
    client = app.test_client()
    env = {"REMOTE_ADDR": "10.0.0.9"}
    preflight = {"Origin": "https://portal.example.com", "Access-Control-Request-Method": "GET"}
    for _ in range(6):
        assert client.options("/v1/jobs", headers=preflight, environ_base=env).status_code < 400
    assert admitted(app, 5, ip="10.0.0.9")[0] == 3  # the whole default budget is still there
