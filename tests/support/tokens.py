"""Credentials for tests: the issuers a test configuration trusts, tokens of the
built-in authorization server for new clients, and tokens of a shared-secret
(HS256) issuer minted here with any claims."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from wrapper.auth.guard import declared_scopes
from wrapper.auth.server import create_client
from wrapper.demo import ensure_state_key
from wrapper.state.store import Grant

ISSUER = "http://127.0.0.1:8080"  # the built-in server
AUDIENCE = "plant-api"
EXTERNAL = "https://idp.test/"  # an identity provider with a JWKS URL
SHARED = "legacy-sso"  # an issuer with a shared secret
SECRET = "s" * 40


def shared_issuer(secret: str = SECRET) -> str:
    """The `auth.issuers` entry (YAML flow style) that trusts `shared_token`s."""
    return f"{{issuer: {SHARED}, shared_secret: {secret}, algorithms: [HS256]}}"


def auth_section(state: Path, jwks_url: str) -> str:
    """An auth section with the built-in server (its state key in a file beside
    `state`), the identity provider at `jwks_url` and the shared-secret issuer."""
    key_file = ensure_state_key(state.parent)
    return f"""
auth:
  audience: {AUDIENCE}
  state: "{state}"
  clock_skew: 5
  api_key_cache_seconds: 0
  server: {{issuer: "{ISSUER}", token_lifetime: 600, state_key_file: "{key_file}"}}
  issuers:
    - {{issuer: "{EXTERNAL}", jwks_url: "{jwks_url}", algorithms: [RS256, ES256], jwks_min_refetch_seconds: 0}}
    - {shared_issuer()}
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def client_token(client: FlaskClient, client_id: str, secret: str) -> dict[str, str]:
    """Authorization headers with a token of the built-in server for this client."""
    response = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return bearer(response.get_json()["access_token"])


def token(app: Flask, scopes: str | None = None, **claims: str) -> dict[str, str]:
    """Authorization headers for a new client (default: every declared scope)."""
    mapping = app.extensions["legacy_wrapper"].mapping
    wanted = tuple((scopes or " ".join(declared_scopes(mapping))).split())
    store = app.extensions["legacy_wrapper"].state
    client_id, secret = create_client(
        store, f"client {len(store.clients())}", Grant(wanted, claims)
    )
    return client_token(app.test_client(), client_id, secret)


class Tokens:
    """Gets tokens from the built-in server for any scopes and claims (one client
    and one token per combination and app: the token endpoint limits how often a
    client asks)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._clients: dict[str, tuple[str, str]] = {}
        self._headers: dict[tuple[str, str], dict[str, str]] = {}

    def client(self, scopes: str, **claims: Any) -> tuple[str, str]:
        name = json.dumps([scopes, claims], sort_keys=True)
        if name not in self._clients:
            store = self.app.extensions["legacy_wrapper"].state
            grant = Grant(tuple(scopes.split()), claims)
            self._clients[name] = create_client(store, name, grant)
        return self._clients[name]

    def __call__(self, scopes: str, **claims: Any) -> dict[str, str]:
        """Authorization headers with a token for these scopes and claims."""
        client_id, secret = self.client(scopes, **claims)
        known = self._headers.get((client_id, secret))
        if known is None:
            known = client_token(self.app.test_client(), client_id, secret)
            self._headers[(client_id, secret)] = known
        return known


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def shared_token(scopes: str, *, secret: str = SECRET, lifetime: int = 600, **claims: Any) -> str:
    """A token of the shared-secret issuer carrying `scopes` and `claims`."""
    now = int(time.time())
    body = {"iss": SHARED, "aud": AUDIENCE, "sub": "tester", "iat": now, "exp": now + lifetime}
    body |= {"scope": scopes, **claims}
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(body).encode())}"
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"
