"""Auth fixtures: an independent identity provider serving its JWKS on 127.0.0.1,
and the demo app with auth on every backend."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from wrapper.app import create_app

from ...support.demo import demo_config
from ...support.tokens import AUDIENCE, EXTERNAL, Tokens, auth_section


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


@pytest.fixture(scope="session")
def auth_app(demo_url: str, idp: Idp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    state = tmp_path_factory.mktemp("auth") / "auth.db"
    app = create_app(demo_config(demo_url, extra=auth_section(state, idp.url)))
    yield app
    app.extensions["legacy_wrapper"].close()


@pytest.fixture(scope="session")
def tokens(auth_app: Flask) -> Tokens:
    return Tokens(auth_app)
