"""The built-in authorization server: client credentials, lifetime, JWKS, metadata, rotation."""

from __future__ import annotations

import json
import time

import pytest
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet

from wrapper.auth.sealing import load_state_key
from wrapper.auth.signing import private_jwk, rotate

from ...support.tokens import AUDIENCE, ISSUER, Tokens


def _jwks(app: Flask) -> KeySet:
    return KeySet.import_key_set(app.test_client().get("/.well-known/jwks.json").get_json())


def _token(app: Flask, client_id: str, secret: str, **form: str) -> tuple[int, dict]:
    response = app.test_client().post(
        "/oauth/token", data={"grant_type": "client_credentials", **form}, auth=(client_id, secret)
    )
    return response.status_code, response.get_json()


def test_client_credentials_token(auth_app: Flask, tokens: Tokens) -> None:
    client_id, secret = tokens.client("jobs:read", work_center="WC03")
    status, body = _token(auth_app, client_id, secret)
    assert status == 200 and body["token_type"] == "Bearer"
    assert body["expires_in"] == 600 and body["scope"] == "jobs:read"
    jwks = auth_app.test_client().get("/.well-known/jwks.json").get_json()
    assert all("d" not in k for k in jwks["keys"])  # public parts only
    token = jwt.decode(body["access_token"], KeySet.import_key_set(jwks))
    assert token.header["typ"] == "at+jwt" and token.header["alg"] == "RS256"
    claims = token.claims
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE and claims["sub"] == client_id
    assert claims["work_center"] == "WC03"
    assert 590 <= claims["exp"] - time.time() <= 600


def test_client_secret_post_and_narrower_scope(auth_app: Flask, tokens: Tokens) -> None:
    client_id, secret = tokens.client("jobs:read orders:read")
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    response = auth_app.test_client().post("/oauth/token", data={**form, "scope": "jobs:read"})
    assert response.status_code == 200
    assert response.get_json()["scope"] == "jobs:read"  # the subset asked for
    token = jwt.decode(response.get_json()["access_token"], _jwks(auth_app))
    assert token.claims["scope"] == "jobs:read"


@pytest.mark.parametrize("asked", ["jobs:read codes:read", "codes:read", "jobs:read nonsense"])
def test_a_scope_the_client_does_not_hold_is_invalid_scope(
    auth_app: Flask, tokens: Tokens, asked: str
) -> None:
    client_id, secret = tokens.client("jobs:read orders:read")
    status, body = _token(auth_app, client_id, secret, scope=asked)
    assert status == 400 and body["error"] == "invalid_scope"
    assert asked.split()[-1] in body["error_description"]
    assert "access_token" not in body


def _answer(app: Flask, client_id: str, secret: str, method: str) -> tuple[int, bytes, dict]:
    form = {"grant_type": "client_credentials"}
    if method == "basic":
        response = app.test_client().post("/oauth/token", data=form, auth=(client_id, secret))
    else:
        form |= {"client_id": client_id, "client_secret": secret}
        response = app.test_client().post("/oauth/token", data=form)
    headers = {k: v for k, v in response.headers.items() if not k.lower().startswith("ratelimit")}
    return response.status_code, response.data, headers


@pytest.mark.parametrize("method", ["basic", "post"])
def test_unknown_client_and_wrong_secret_answer_the_same(
    auth_app: Flask, tokens: Tokens, method: str
) -> None:
    client_id, _ = tokens.client("jobs:read")
    wrong_secret = _answer(auth_app, client_id, "wrong", method)
    unknown = _answer(auth_app, "nobody-0000", "wrong", method)
    assert wrong_secret == unknown
    status, body, headers = unknown
    assert status == 401 and json.loads(body)["error"] == "invalid_client"
    assert headers["WWW-Authenticate"].startswith("Basic")


def test_an_unknown_client_does_the_work_of_a_wrong_secret(
    auth_app: Flask, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same work for both: a state lookup, a digest and a constant-time comparison."""
    from wrapper.auth import server

    checked = []
    real = server.hmac.compare_digest

    def compare(a: str, b: str) -> bool:
        checked.append((len(a), len(b)))
        return real(a, b)

    client_id, _ = tokens.client("jobs:read")
    monkeypatch.setattr(server.hmac, "compare_digest", compare)
    _answer(auth_app, client_id, "wrong", "basic")
    _answer(auth_app, "nobody-0000", "wrong", "basic")
    assert checked == [(64, 64), (64, 64)]


def test_other_grants_are_refused(auth_app: Flask) -> None:
    response = auth_app.test_client().post(
        "/oauth/token", data={"grant_type": "password", "username": "a", "password": "b"}
    )
    assert response.status_code == 400


def test_secrets_are_stored_hashed(auth_app: Flask, tokens: Tokens) -> None:
    client_id, secret = tokens.client("codes:read")
    record = auth_app.extensions["legacy_wrapper"].state.client(client_id)
    assert secret not in record.secret_sha256 and len(record.secret_sha256) == 64


def test_metadata(auth_app: Flask) -> None:
    meta = auth_app.test_client().get("/.well-known/oauth-authorization-server").get_json()
    assert meta["issuer"] == ISSUER
    assert meta["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert meta["grant_types_supported"] == ["client_credentials"]
    assert "orders:pricing" in meta["scopes_supported"]


def test_rotation_keeps_unexpired_tokens_valid(auth_app: Flask, tokens: Tokens) -> None:
    client = auth_app.test_client()
    old = tokens("codes:read")
    state = auth_app.extensions["legacy_wrapper"]
    kid = rotate(
        state.state, state.config.auth, load_state_key(state.config.auth.server.state_key_file)
    )
    kids = {k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert kid in kids and len(kids) >= 2
    assert client.get("/v1/codes?limit=1", headers=old).status_code == 200
    # a new token signed with the new key is accepted once this worker signs with it
    guard = auth_app.extensions["legacy_wrapper_auth"]
    guard.tokens.issuers[ISSUER].keys.min_refetch = 0  # no wait for the refetch rate limit
    state_key = load_state_key(state.config.auth.server.state_key_file)
    private = private_jwk(state.state.signing_keys()[0], state_key)
    new_key = KeySet.import_key_set({"keys": [private]})
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "scope": "codes:read"}
    token = jwt.encode({"alg": "RS256", "kid": kid}, claims, new_key)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/codes?limit=1", headers=headers).status_code == 200
