"""Signing keys are encrypted at rest with the operator's state key: a copy of the
state database alone cannot mint tokens, and the token server does not start
without the key."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from joserfc import jwt
from joserfc.jwk import KeySet

from wrapper.app import create_app
from wrapper.auth.sealing import ENV_VAR, StateKeyError, load_state_key, new_state_key
from wrapper.auth.server import create_client
from wrapper.auth.signing import Signer, generate_key, private_jwk
from wrapper.cli import main
from wrapper.config import ConfigError, load_config
from wrapper.demo import prepare_demo
from wrapper.state.store import Grant, StateStore

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small demo: its config names `state.key` beside it; no key in the environment."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    return prepare_demo(tmp_path, orders=20)


def start(config_path: Path) -> Flask:
    app = create_app(load_config(config_path))
    app.extensions["legacy_wrapper"].close()
    return app


def rows(config_path: Path) -> list[sa.Row]:
    engine = sa.create_engine(load_config(config_path).auth.state)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT kid, private_jwk FROM lw_signing_keys")).all()
    finally:
        engine.dispose()


def private_members(value: object) -> set[str]:
    if isinstance(value, dict):
        found = PRIVATE_MEMBERS & set(value)
        for item in value.values():
            found |= private_members(item)
        return found
    return set()


def get_token(app: Flask, config_path: Path) -> str:
    store = StateStore(load_config(config_path).auth.state)
    try:
        client_id, secret = create_client(store, "c", Grant(("jobs:read",), {}))
    finally:
        store.close()
    response = app.test_client().post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def test_the_state_database_holds_no_private_key_in_clear(demo: Path) -> None:
    start(demo)
    stored = rows(demo)
    assert len(stored) == 1
    kid, text = stored[0]
    material = json.loads(text)
    assert private_members(material) == set() and material["sealed"].startswith("v1.")
    store = StateStore(load_config(demo).auth.state)
    try:
        key = store.signing_keys()[0]
        opened = private_jwk(key, load_state_key(demo.parent / "state.key"))
        assert opened["kid"] == kid
        for member in PRIVATE_MEMBERS:
            assert opened[member] not in text
        other = load_state_key(None, {ENV_VAR: new_state_key()})
        with pytest.raises(StateKeyError, match="another state key"):
            Signer(store, other).active_keys()  # a copy of the database alone signs nothing
    finally:
        store.close()


def test_tokens_are_signed_with_the_sealed_key(demo: Path) -> None:
    app = start(demo)
    token = get_token(app, demo)
    jwks = app.test_client().get("/.well-known/jwks.json").get_json()
    assert private_members(jwks) == set()
    assert jwt.decode(token, KeySet.import_key_set(jwks)).claims["scope"] == "jobs:read"


def test_the_token_server_does_not_start_without_the_state_key(demo: Path) -> None:
    (demo.parent / "state.key").unlink()
    with pytest.raises(ConfigError) as info:
        start(demo)
    message = str(info.value)
    assert "cannot read the state key file" in message and "new-state-key" in message
    demo.write_text(demo.read_text().replace(", state_key_file: state.key", ""))
    with pytest.raises(ConfigError) as info:
        start(demo)
    assert ENV_VAR in str(info.value) and "auth.server.state_key_file" in str(info.value)
    assert "Traceback" not in str(info.value)


def test_the_environment_variable_comes_first(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (demo.parent / "state.key").unlink()
    monkeypatch.setenv(ENV_VAR, new_state_key())
    app = start(demo)
    assert get_token(app, demo)
    monkeypatch.setenv(ENV_VAR, "too-short")
    with pytest.raises(ConfigError, match=f"{ENV_VAR} is not a state key"):
        start(demo)


def test_another_state_key_is_refused_at_start(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start(demo)
    monkeypatch.setenv(ENV_VAR, new_state_key())
    with pytest.raises(ConfigError, match=r"sealed with another state key.*signing-keys rotate"):
        start(demo)


def test_keys_stored_in_clear_are_sealed_on_start(
    demo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A state database from a version that stored private keys in clear."""
    store = StateStore(load_config(demo).auth.state)
    kid, jwk = generate_key("RS256")
    store.add_signing_key(kid, "RS256", jwk, retire_old_at=0)
    store.close()
    assert private_members(json.loads(rows(demo)[0][1])) == PRIVATE_MEMBERS
    with caplog.at_level(logging.WARNING):
        app = start(demo)
    assert "encrypted 1 signing key(s) that were stored in clear" in caplog.text
    assert [private_members(json.loads(text)) for _kid, text in rows(demo)] == [set()]
    token = get_token(app, demo)
    assert jwt.decode(token, KeySet.import_key_set({"keys": [jwk]})).header["kid"] == kid


# ------------------------------------------------------------------ commands


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_new_state_key_command(tmp_path: Path) -> None:
    code, out = run("signing-keys", "new-state-key")
    assert code == 0 and load_state_key(None, {ENV_VAR: out.strip()})
    path = tmp_path / "state.key"
    assert run("signing-keys", "new-state-key", "--out", str(path))[0] == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    code, out = run("signing-keys", "new-state-key", "--out", str(path))
    assert code == 2 and "exists already" in out and path.read_text() == first


@pytest.fixture
def started(demo: Path) -> Iterator[Path]:
    start(demo)
    yield demo


def test_rotate_needs_the_state_key_and_list_does_not(
    started: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = (started.parent / "state.key").read_text()
    (started.parent / "state.key").unlink()
    code, out = run("signing-keys", "rotate", "--config", str(started))
    assert code == 2 and "cannot read the state key file" in out and "Traceback" not in out
    assert run("signing-keys", "list", "--config", str(started))[0] == 0
    monkeypatch.setenv(ENV_VAR, key)
    assert run("signing-keys", "rotate", "--config", str(started))[0] == 0
    assert [private_members(json.loads(text)) for _kid, text in rows(started)] == [set(), set()]


def test_a_new_state_key_takes_over_through_rotation(
    started: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changing the state key: rotate with the new one; the old keys stay published."""
    monkeypatch.setenv(ENV_VAR, new_state_key())
    assert run("signing-keys", "rotate", "--config", str(started))[0] == 0
    app = start(started)
    jwks = app.test_client().get("/.well-known/jwks.json").get_json()
    assert len(jwks["keys"]) == 2
    assert get_token(app, started)


def test_serve_refuses_without_the_state_key(started: Path) -> None:
    (started.parent / "state.key").unlink()
    code, out = run("serve", "--config", str(started), "--workers", "1")
    assert code == 2 and "the configuration has problems" in out
    assert "cannot read the state key file" in out and "Traceback" not in out
