"""Authentication runs once per request, although the rate limiter (its key and
its tier) and the view all ask who is calling: for a list, an item, a 401, a 403
and a 429, with a bearer token or an API key."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from wrapper.app import create_app
from wrapper.auth.apikeys import create_api_key
from wrapper.state.store import Grant

from ...support.demo import build_demo, demo_config
from ...support.tokens import bearer, shared_issuer, shared_token

LIMIT = 5  # requests a minute per client (and per address), so that a sixth is refused


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("once")
    url = build_demo(folder, orders=20)
    extra = f"""
auth:
  audience: plant-api
  issuers: [{shared_issuer()}]
limits:
  storage: memory://
  default: {LIMIT}/minute
"""
    app = create_app(demo_config(url, extra=extra))
    yield app
    app.extensions["legacy_wrapper"].close()


@pytest.fixture
def counted(app: Flask) -> Iterator[Counter[str]]:
    """Calls of the guard's steps, counted by spies on the guard itself."""
    guard = app.extensions["legacy_wrapper_auth"]
    calls: Counter[str] = Counter()

    def spy(name: str, target: Any, attribute: str) -> None:
        original: Callable[..., Any] = getattr(target, attribute)

        def counting(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return original(*args, **kwargs)

        setattr(target, attribute, counting)

    spy("asked", guard, "authenticate")  # by the limiter's key, its tier and the view
    spy("authenticated", guard, "_authenticate")
    spy("tokens validated", guard.tokens, "validate")
    spy("keys verified", guard.api_keys, "verify")
    yield calls
    for target, attribute in (
        (guard, "authenticate"),
        (guard, "_authenticate"),
        (guard.tokens, "validate"),
        (guard.api_keys, "verify"),
    ):
        delattr(target, attribute)  # the class's method again


def once(
    app: Flask, counted: Counter[str], path: str, headers: dict[str, str], status: int
) -> Counter[str]:
    counted.clear()
    response = app.test_client().get(path, headers=headers)
    assert response.status_code == status, response.get_json()
    assert response.headers["RateLimit-Policy"]  # the limiter ran
    calls = Counter(counted)
    assert calls["authenticated"] == 1, calls
    assert calls["asked"] >= 2, calls  # the limiter asked too, and got the same answer
    return calls


def token(subject: str, scopes: str = "jobs:read jobs:all_work_centers") -> dict[str, str]:
    return bearer(shared_token(scopes, sub=subject))


def test_a_list_and_an_item(app: Flask, counted: Counter[str]) -> None:
    headers = token("lister")
    listed = once(app, counted, "/v1/jobs?limit=2", headers, 200)
    assert listed["tokens validated"] == 1 and listed["keys verified"] == 0
    assert listed["asked"] == 3  # the limiter's key, its tier, the view
    job = app.test_client().get("/v1/jobs?limit=1", headers=headers).get_json()["data"][0]
    item = once(app, counted, f"/v1/jobs/{job['job_id']}", headers, 200)
    assert item["tokens validated"] == 1


@pytest.mark.parametrize(
    ("headers", "validated"),
    [
        ({}, 0),  # no credentials
        ({"Authorization": "Bearer not.a-valid.token"}, 1),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 0),
    ],
)
def test_a_401(app: Flask, counted: Counter[str], headers: dict[str, str], validated: int) -> None:
    calls = once(app, counted, "/v1/jobs?limit=2", headers, 401)
    assert calls["tokens validated"] == validated


def test_a_403(app: Flask, counted: Counter[str]) -> None:
    calls = once(app, counted, "/v1/orders?limit=2", token("no-orders"), 403)
    assert calls["tokens validated"] == 1


def test_a_429(app: Flask, counted: Counter[str]) -> None:
    headers = token("eager")
    for _ in range(LIMIT):
        assert once(app, counted, "/v1/jobs?limit=1", headers, 200)["tokens validated"] == 1
    refused = once(app, counted, "/v1/jobs?limit=1", headers, 429)
    assert refused["tokens validated"] == 1


def test_an_api_key(app: Flask, counted: Counter[str]) -> None:
    store = app.extensions["legacy_wrapper"].state
    _, key = create_api_key(store, "erp", Grant(("jobs:read", "jobs:all_work_centers"), {}), None)
    calls = once(app, counted, "/v1/jobs?limit=2", {"X-API-Key": key}, 200)
    assert (calls["keys verified"], calls["tokens validated"]) == (1, 0)
