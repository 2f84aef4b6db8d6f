"""The demo on SQLite, served with authentication by the built-in server, for tests
of the HTTP surface (headers, CORS, cursors, the OpenAPI contract)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from wrapper.app import create_app
from wrapper.auth.guard import declared_scopes
from wrapper.auth.server import create_client
from wrapper.config import load_config
from wrapper.demo import MAPPING, ensure_state_key, plant
from wrapper.state.store import Grant

AUTH = """
auth:
  audience: plant-api
  server: {{issuer: "http://127.0.0.1:8080", token_lifetime: 600, state_key_file: "{key}"}}
"""


def build_demo(folder: Path, orders: int = 120) -> str:
    """A demo legacy database in `folder`; returns its URL."""
    url = f"sqlite:///{folder / 'plant.db'}"
    plant.build(url, orders=orders)
    return url


def write_config(folder: Path, url: str, extra: str = "", *, auth: bool = True) -> Path:
    """The demo mapping over `url` plus `extra` top-level YAML, written to
    `folder/wrapper.yaml` (its state database defaults to a file next to it)."""
    text = MAPPING.read_text(encoding="utf-8").replace("url: sqlite:///plant.db", f'url: "{url}"')
    path = folder / "wrapper.yaml"
    section = AUTH.format(key=ensure_state_key(folder)) if auth else ""
    path.write_text(text + extra + section, encoding="utf-8")
    return path


def open_app(config_path: Path, *, no_auth: bool = False) -> Flask:
    return create_app(load_config(config_path), no_auth=no_auth)


def close_app(app: Flask) -> None:
    app.extensions["legacy_wrapper"].close()


def token(app: Flask, scopes: str | None = None, **claims: str) -> dict[str, str]:
    """An `Authorization` header for a new client (default: every declared scope)."""
    mapping = app.extensions["legacy_wrapper"].mapping
    wanted = tuple((scopes or " ".join(declared_scopes(mapping))).split())
    store = app.extensions["legacy_wrapper"].state
    client_id, secret = create_client(
        store, f"client {len(store.clients())}", Grant(wanted, claims)
    )
    response = app.test_client().post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}
