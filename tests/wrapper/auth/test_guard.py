"""Every resource and operation, allowed and denied; 401/403 as RFC 6750 problems; API keys."""

from __future__ import annotations

import time

import pytest
from flask import Flask

from wrapper.auth.apikeys import create_api_key
from wrapper.state.store import Grant

from ...support.tokens import Tokens
from .conftest import Idp, unsigned

# Scopes that also lift the demo's row rules, so every resource is readable.
ALL_ROWS = "orders:all customers:all jobs:all_work_centers"


def operations(app: Flask) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(version, resource, operation, required scopes) for every operation served."""
    mapping = app.extensions["legacy_wrapper"].mapping
    result = []
    for version in mapping.versions.values():
        for res in version.resources.values():
            for op in ("list", "item") if res.key else ("list",):
                result.append((version.name, res.name, op, res.scopes[op]))
    return result


def _url(client, version: str, resource: str, op: str, headers: dict) -> str:
    base = f"/{version}/{resource}"
    if op == "list":
        return base + "?limit=2"
    first = client.get(base + "?limit=1", headers=headers).get_json()["data"][0]
    res = client.application.extensions["legacy_wrapper"].mapping.resource(version, resource)
    return base + "/" + ",".join(str(first[k]) for k in res.key)


def test_every_operation_allows_its_scope_and_denies_others(
    auth_app: Flask, tokens: Tokens
) -> None:
    client = auth_app.test_client()
    ops = operations(auth_app)
    assert len(ops) >= 12
    for version, resource, op, required in ops:
        allowed = tokens(" ".join(required) + " " + ALL_ROWS)
        url = _url(client, version, resource, op, allowed)
        response = client.get(url, headers=allowed)
        assert response.status_code == 200, (url, response.get_json())
        other = [s for v, r, o, req in ops for s in req if s not in required][:1]
        denied = tokens(" ".join(other) + " " + ALL_ROWS)
        response = client.get(url, headers=denied)
        assert response.status_code == 403, url
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"] == "/problems/insufficient-scope"
        challenge = response.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert f'scope="{" ".join(required)}"' in challenge
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-token",
        "Bearer " + "a.b.c",
        "Basic dXNlcjpwYXNz",
        "Bearer ",
    ],
)
def test_invalid_credentials_answer_401_problems(auth_app: Flask, header: str) -> None:
    response = auth_app.test_client().get("/v1/jobs", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/unauthorized"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer") and "error=" in challenge


def test_missing_credentials_challenge_without_error(auth_app: Flask) -> None:
    response = auth_app.test_client().get("/v1/jobs")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="legacy-wrapper"'


def test_public_endpoints_need_no_credentials(auth_app: Flask) -> None:
    client = auth_app.test_client()
    for url in ("/livez", "/v1/openapi.json", "/v1/docs", "/", "/.well-known/jwks.json"):
        assert client.get(url).status_code == 200, url


def test_external_issuer_tokens_over_http(auth_app: Flask, idp: Idp) -> None:
    client = auth_app.test_client()
    good = idp.token(scope="jobs:read", work_center="WC01")
    page = client.get("/v1/jobs?limit=50", headers={"Authorization": f"Bearer {good}"})
    assert page.status_code == 200
    assert {j["work_center"] for j in page.get_json()["data"]} == {"WC01"}
    for bad in (
        unsigned(scope="jobs:read jobs:all_work_centers"),
        idp.token(exp=int(time.time()) - 60),
    ):
        response = client.get("/v1/jobs", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code == 401
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_resource_without_scopes_is_unreachable(auth_app: Flask, tokens: Tokens) -> None:
    from dataclasses import replace

    from wrapper.auth.principal import Principal
    from wrapper.problems import InsufficientScope

    guard = auth_app.extensions["legacy_wrapper_auth"]
    codes = auth_app.extensions["legacy_wrapper"].mapping.resource("v1", "codes")
    unscoped = replace(codes, scopes={}, by_name={})
    everything = Principal("root", frozenset({"codes:read", "*", ""}))
    with pytest.raises(InsufficientScope):
        guard.policy.authorize(everything, unscoped, "list")


def test_api_keys(auth_app: Flask) -> None:
    client = auth_app.test_client()
    store = auth_app.extensions["legacy_wrapper"].state
    grant = Grant(("orders:read",), {"customer_no": "C0001005"})
    prefix, key = create_api_key(store, "erp-sync", grant, expires_at=None)
    assert key.startswith(f"lwk_{prefix}_") and key not in store.api_key(prefix).secret_sha256
    response = client.get("/v1/orders?limit=100", headers={"X-API-Key": key})
    assert response.status_code == 200
    assert {o["customer_no"] for o in response.get_json()["data"]} == {"C0001005"}
    assert client.get("/v1/jobs", headers={"X-API-Key": key}).status_code == 403
    assert client.get("/v1/orders", headers={"X-API-Key": key[:-2] + "xx"}).status_code == 401
    assert store.revoke_api_key(prefix)
    response = client.get("/v1/orders", headers={"X-API-Key": key})
    assert response.status_code == 401 and "revoked" in response.get_json()["detail"]
    _, expired = create_api_key(store, "old", grant, expires_at=time.time() - 1)
    response = client.get("/v1/orders", headers={"X-API-Key": expired})
    assert response.status_code == 401 and "expired" in response.get_json()["detail"]
