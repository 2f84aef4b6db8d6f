"""The demo: a generated 1998 plant database served with the demo mapping."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

MAPPING = Path(__file__).with_name("mapping.yaml")
AUTH_SECTION = """
auth:
  audience: plant-api
  state: auth.db
  clock_skew: 30
  server: {{issuer: "http://{bind}", token_lifetime: 900, state_key_file: state.key}}
"""
PERSONAS = (
    # (name, scopes, claims, what it sees)
    ("dashboard", "jobs:read jobs:all_work_centers", {}, "every job"),
    ("floor supervisor WC03", "jobs:read", {"work_center": "WC03"}, "jobs of work centre WC03"),
    (
        "customer portal C0001005",
        "orders:read customers:read",
        {"customer_no": "C0001005"},
        "orders and customer record of C0001005, without prices",
    ),
)


def prepare_demo(workdir: Path, *, orders: int = 2000, bind: str = "127.0.0.1:8080") -> Path:
    """Build the demo legacy database in `workdir` (once) and write a config
    pointing at it, with the built-in authorization server; returns its path."""
    from fixtures import legacy_demo

    workdir.mkdir(parents=True, exist_ok=True)
    database = (workdir / "plant.db").resolve()
    marker = workdir / f".built-{orders}"
    if not marker.exists():
        database.unlink(missing_ok=True)
        legacy_demo.build(f"sqlite:///{database}", orders=orders)
        marker.touch()
    text = MAPPING.read_text(encoding="utf-8")
    config_path = workdir / "wrapper.yaml"
    url = json.dumps(f"sqlite:///{database}")  # a JSON string is a valid YAML scalar
    text = text.replace("url: sqlite:///plant.db", f"url: {url}")
    config_path.write_text(text + AUTH_SECTION.format(bind=bind), encoding="utf-8")
    ensure_state_key(workdir)
    return config_path


def ensure_state_key(workdir: Path) -> Path:
    """The demo's state key file (`state.key` beside its config), created once."""
    from wrapper.auth.sealing import write_state_key_file

    path = workdir / "state.key"
    with contextlib.suppress(FileExistsError):  # an earlier run's: its signing keys need it
        write_state_key_file(path)
    return path


def reset_personas(config_path: Path) -> list[tuple[str, str, str, str, str]]:
    """(Re)create the demo's clients; returns (name, client_id, secret, scopes, sees)."""
    from wrapper.auth.server import create_client
    from wrapper.auth.store import Grant, StateStore
    from wrapper.config import load_config

    config = load_config(config_path)
    assert config.auth is not None
    store = StateStore(config.auth.state)
    result = []
    try:
        for name, scopes, claims, sees in PERSONAS:
            store.remove_client(name)
            client_id, secret = create_client(store, name, Grant(tuple(scopes.split()), claims))
            result.append((name, client_id, secret, scopes, sees))
    finally:
        store.close()
    return result
