"""`POST /oauth/token` has its own rate limits, per client id and per address, with
the API's RateLimit fields and 429 problem."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from flask import Flask

from wrapper.app import create_app
from wrapper.auth.server import create_client
from wrapper.config import ConfigError, load_config, parse_config
from wrapper.demo import prepare_demo
from wrapper.state.store import Grant


@pytest.fixture
def make_app(tmp_path: Path):
    """A small demo whose token server has the given `token_limits` (and YAML after it)."""
    apps: list[Flask] = []

    def make(token_limits: str | None, extra: str = "") -> Flask:
        config_path = prepare_demo(tmp_path, orders=20)
        text = config_path.read_text()
        if token_limits is not None:
            text = text.replace(
                "state_key_file: state.key}",
                f"state_key_file: state.key, token_limits: {token_limits}}}",
            )
        config_path.write_text(text + extra)
        app = create_app(load_config(config_path))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["legacy_wrapper"].close()


def client(app: Flask, name: str) -> tuple[str, str]:
    return create_client(
        app.extensions["legacy_wrapper"].state,
        name,
        Grant(("jobs:read", "jobs:all_work_centers"), {}),
    )


def ask(app: Flask, credentials: tuple[str, str], address: str = "127.0.0.1"):
    return app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=credentials,
        environ_base={"REMOTE_ADDR": address},
    )


def test_each_client_id_and_each_address_has_a_limit(make_app) -> None:
    app = make_app("{client: 3/minute, address: 5/minute}")
    first, second = client(app, "first"), client(app, "second")
    assert [ask(app, first).status_code for _ in range(4)] == [200, 200, 200, 429]
    # the address has had 4 of its 5: the second client gets one more, then the address is spent
    assert [ask(app, second).status_code for _ in range(2)] == [200, 429]
    refused = ask(app, second)
    assert refused.mimetype == "application/problem+json"
    body = refused.get_json()
    assert body["type"] == "/problems/rate-limited" and "token-address" in body["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit"].startswith('"token-address";r=0;t=')
    # another address: its own count, but the first client's own limit still holds
    assert ask(app, second, "10.0.0.2").status_code == 200
    assert ask(app, first, "10.0.0.2").status_code == 429


def test_wrong_secrets_and_unknown_clients_are_counted(make_app) -> None:
    app = make_app("{client: 2/minute, address: 4/minute}")
    client_id, secret = client(app, "victim")
    assert [ask(app, (client_id, "guess")).status_code for _ in range(3)] == [401, 401, 429]
    assert ask(app, (client_id, secret)).status_code == 429  # until the window ends
    statuses = [ask(app, (f"nobody-{n}", "x"), "10.0.0.3").status_code for n in range(5)]
    assert statuses == [401, 401, 401, 401, 429]


def test_answers_carry_the_ietf_fields(make_app) -> None:
    app = make_app("{client: 3/minute, address: 5/minute}")
    response = ask(app, client(app, "c"))
    assert response.status_code == 200
    policy = response.headers["RateLimit-Policy"]
    assert policy == '"token-address";q=5;w=60, "token-client";q=3;w=60'
    assert response.headers["RateLimit"].startswith('"token-client";r=2;t=')
    anonymous = app.test_client().post("/oauth/token", data={"grant_type": "client_credentials"})
    assert anonymous.headers["RateLimit-Policy"] == '"token-address";q=5;w=60'


def test_limited_by_default_and_apart_from_the_api_limits(make_app) -> None:
    app = make_app(None, "limits:\n  storage: memory://\n  default: 2/minute\n")
    credentials = client(app, "c")
    responses = [ask(app, credentials) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]  # not the API's 2/minute
    assert responses[0].headers["RateLimit-Policy"] == (
        '"token-address";q=60;w=60, "token-client";q=20;w=60'
    )
    token = responses[0].get_json()["access_token"]
    api = app.test_client()
    statuses = [
        api.get("/v1/jobs?limit=1", headers={"Authorization": f"Bearer {token}"}).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]  # the API's own limit, untouched by the token requests


@pytest.mark.parametrize("credentials", [b"\xff\xfe:x", b"\xc3", b"id\xff:secret"])
def test_unreadable_basic_credentials_are_invalid_client(make_app, credentials: bytes) -> None:
    app = make_app(None)
    response = app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Basic " + base64.b64encode(credentials).decode()},
    )
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_token_limits_configuration() -> None:
    base = (
        "source: {url: 'sqlite://'}\nversions:\n  v1:\n    resources:\n      jobs:\n"
        "        table: J\n        scopes: jobs:read\n        fields: {a: A}\n"
        "auth:\n  audience: api\n  state: s.db\n  server:\n    issuer: 'http://h'\n"
    )
    config = parse_config(base + "    token_limits: {client: 5/second, address: 100/hour}\n")
    server = config.auth.server
    assert (server.client_limit, server.address_limit) == ("5/second", "100/hour")
    assert (parse_config(base).auth.server.client_limit) == "20/minute"
    with pytest.raises(ConfigError) as info:
        parse_config(
            base + "    token_limits: {client: often, address: '1/second;2/minute', per: x}\n",
            filename="w.yaml",
        )
    problems = "\n".join(info.value.problems)
    assert "w.yaml:14: auth.server.token_limits.client: one rate such as 20/minute" in problems
    assert "auth.server.token_limits.address: one rate" in problems
    assert "auth.server.token_limits.per: unknown key" in problems
