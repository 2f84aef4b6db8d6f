"""The demo mapping over a test database: as text, as a parsed `Config`, written
to a folder (with an `auth:` section for the built-in server), or served in-process."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask

from wrapper.app import create_app
from wrapper.config import Config, load_config, parse_config
from wrapper.demo import MAPPING, ensure_state_key, plant

from .tokens import ISSUER

SOURCE_LINE = "url: sqlite:///plant.db"  # the demo mapping's source, replaced by a test's

AUTH = """
auth:
  audience: plant-api
  server: {{issuer: "{issuer}", token_lifetime: 600, state_key_file: "{key}"}}
"""


def demo_mapping(url: str, text: str | None = None) -> str:
    """The demo mapping (or `text`, a changed copy of it) reading the database at `url`."""
    text = text if text is not None else MAPPING.read_text(encoding="utf-8")
    assert SOURCE_LINE in text
    return text.replace(SOURCE_LINE, f"url: {json.dumps(url)}")


def demo_config(url: str, text: str | None = None, extra: str = "") -> Config:
    """`demo_mapping(url, text)` plus `extra` top-level YAML, parsed (state in memory)."""
    return parse_config(demo_mapping(url, text) + extra, filename="demo.yaml")


def build_demo(folder: Path, orders: int = 120) -> str:
    """A demo legacy database in `folder` (SQLite); returns its URL."""
    url = f"sqlite:///{folder / 'plant.db'}"
    plant.build(url, orders=orders)
    return url


def write_config(folder: Path, url: str, extra: str = "", *, auth: bool = True) -> Path:
    """The demo mapping over `url` plus `extra` top-level YAML, written to
    `folder/wrapper.yaml` (its state database defaults to a file next to it); with
    `auth`, an `auth:` section for the built-in server, its state key beside it."""
    path = folder / "wrapper.yaml"
    section = AUTH.format(issuer=ISSUER, key=ensure_state_key(folder)) if auth else ""
    path.write_text(demo_mapping(url) + extra + section, encoding="utf-8")
    return path


def open_app(config_path: Path, *, no_auth: bool = False) -> Flask:
    return create_app(load_config(config_path), no_auth=no_auth)


def close_app(app: Flask) -> None:
    app.extensions["legacy_wrapper"].close()
