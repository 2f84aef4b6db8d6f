"""Auth fixtures: an independent identity provider serving its JWKS on 127.0.0.1,
and the demo app with auth on every backend."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from wrapper.app import create_app
from wrapper.auth.server import create_client
from wrapper.config import parse_config
from wrapper.demo import MAPPING, ensure_state_key
from wrapper.state.store import Grant

ISSUER = "http://127.0.0.1:8080"
AUDIENCE = "plant-api"
EXTERNAL = "https://idp.test/"
SHARED = "legacy-sso"
SECRET = "s" * 40


class Idp:
    """An external identity provider: its own keys, its JWKS on a local HTTP server."""

    def __init__(self) -> None:
        self.keys: list[RSAKey | ECKey] = [
            RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "alg": "RS256"}),
            ECKey.generate_key("P-256", parameters={"kid": "ec-1", "alg": "ES256"}),
        ]
        self.requests = 0
        self.url = ""

    def jwks(self) -> dict[str, Any]:
        return KeySet(list(self.keys)).as_dict(private=False)

    def add_key(self, kid: str) -> RSAKey:
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256"})
        self.keys.append(key)
        return key

    def token(
        self,
        key: Any = None,
        header: dict[str, Any] | None = None,
        *,
        issuer: str = EXTERNAL,
        **claims: Any,
    ) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        payload = {
            "iss": issuer,
            "aud": AUDIENCE,
            "sub": "ext-client",
            "iat": now,
            "exp": now + 300,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        alg = "ES256" if isinstance(key, ECKey) else "RS256"
        head = {"alg": alg, "kid": key.kid} if header is None else header
        return jwt.encode(head, payload, key, algorithms=[head.get("alg", alg)])


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(**claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": EXTERNAL, "aud": AUDIENCE, "sub": "x", "exp": now + 300, **claims}
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(payload)}."


@pytest.fixture(scope="session")
def idp() -> Iterator[Idp]:
    provider = Idp()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.requests += 1
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.url = f"http://127.0.0.1:{server.server_port}/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider
    server.shutdown()
    server.server_close()


def auth_section(state: Path, jwks_url: str) -> str:
    """An auth section with the built-in server, its state key in a file beside `state`."""
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
    - {{issuer: {SHARED}, shared_secret: {SECRET}, algorithms: [HS256]}}
"""


@pytest.fixture(scope="session")
def auth_app(demo_url: str, idp: Idp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    state = tmp_path_factory.mktemp("auth") / "auth.db"
    text = MAPPING.read_text(encoding="utf-8") + auth_section(state, idp.url)
    text = text.replace("url: sqlite:///plant.db", f'url: "{demo_url}"')
    app = create_app(parse_config(text, filename="demo.yaml"))
    yield app
    app.extensions["legacy_wrapper"].close()


class Tokens:
    """Gets tokens from the built-in server for any scopes and claims."""

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
        """Authorization headers with a token for these scopes and claims (one token
        per client and app: the token endpoint limits how often a client asks)."""
        client_id, secret = self.client(scopes, **claims)
        known = self._headers.get((client_id, secret))
        if known is not None:
            return known
        response = self.app.test_client().post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
        )
        assert response.status_code == 200, response.get_json()
        headers = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
        self._headers[(client_id, secret)] = headers
        return headers


@pytest.fixture(scope="session")
def tokens(auth_app: Flask) -> Tokens:
    return Tokens(auth_app)
