"""The demo: a generated 1998 plant database served with the demo mapping."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

MAPPING = Path(__file__).with_name("mapping.yaml")
AUTH_TEMPLATE = """
auth:
  audience: plant-api
  state: auth.db
  clock_skew: 30
  server: {{issuer: {issuer}, token_lifetime: 900, state_key_file: state.key}}
"""
AUTH_SECTION = AUTH_TEMPLATE.replace("{issuer}", '"http://{bind}"')  # issuer http://BIND
# Rate limits and a short shared cache, so RateLimit headers, 429s, cache hits
# and coalescing can be seen; `{store}` is memory:// (one worker) or redis://.
PROTECTION_TEMPLATE = """
limits:
  storage: {store}
  strategy: moving-window
  key_prefix: {prefix}-limits
  default: 120/minute
  global: 1200/minute
cache:
  storage: {store}
  key_prefix: {prefix}-cache
"""
# The subscriptions API may target receivers on this machine (`python -m
# wrapper.demo.receiver`); anything else on loopback or a private network stays refused.
WEBHOOKS_SECTION = """
webhooks:
  allow: [127.0.0.1]
"""
CACHED = {"JOBSCHED": 5, "CODETBL": 60}  # table -> seconds its resources are cached
ALL_SCOPES = "*"  # a persona holding every scope the mapping declares
PERSONAS = (
    # (name, scopes, claims, what it sees)
    ("dashboard", "jobs:read jobs:all_work_centers webhooks:manage", {}, "every job"),
    ("floor supervisor WC03", "jobs:read", {"work_center": "WC03"}, "jobs of work centre WC03"),
    (
        "customer portal C0001005",
        "orders:read order_lines:read customers:read webhooks:manage",
        {"customer_no": "C0001005"},
        "orders, their lines and the customer record of C0001005, without prices; "
        "webhooks of its orders",
    ),
    ("plant auditor", ALL_SCOPES, {}, "every resource, field and row"),
)


@dataclass(frozen=True)
class Protection:
    """Where the demo's rate limits and cache live (`memory://` or `redis://...`)."""

    store: str
    key_prefix: str = "lw-demo"

    @property
    def shared(self) -> bool:
        return not self.store.startswith("memory://")


def prepare_demo(
    workdir: Path,
    *,
    orders: int = 2000,
    bind: str = "127.0.0.1:8080",
    issuer: str | None = None,
    protection: Protection | None = None,
) -> Path:
    """Build the demo legacy database in `workdir` (once) and write a config
    pointing at it, with the built-in authorization server (tokens issued as
    `issuer`, default http://BIND) and, given `protection`, rate limits and a
    short cache on jobs and codes; returns its path."""
    from wrapper.demo import plant

    workdir.mkdir(parents=True, exist_ok=True)
    database = (workdir / "plant.db").resolve()
    marker = workdir / f".built-{orders}"
    if not marker.exists():
        database.unlink(missing_ok=True)
        plant.build(f"sqlite:///{database}", orders=orders)
        marker.touch()
    text = MAPPING.read_text(encoding="utf-8")
    url = json.dumps(f"sqlite:///{database}")  # a JSON string is a valid YAML scalar
    text = text.replace("url: sqlite:///plant.db", f"url: {url}")
    if protection is not None:
        for table, seconds in CACHED.items():
            line = f"        table: {table}\n"
            text = text.replace(line, f"{line}        cache: {{max_age: {seconds}}}\n")
        text += PROTECTION_TEMPLATE.format(
            store=json.dumps(protection.store), prefix=protection.key_prefix
        )
    text += WEBHOOKS_SECTION
    text += AUTH_TEMPLATE.format(issuer=json.dumps(issuer or f"http://{bind}"))
    config_path = workdir / "wrapper.yaml"
    config_path.write_text(text, encoding="utf-8")
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
    from wrapper.auth.commands import declared_scopes
    from wrapper.auth.server import create_client
    from wrapper.config import load_config
    from wrapper.state.store import Grant, StateStore

    config = load_config(config_path)
    assert config.auth is not None
    every_scope = " ".join(sorted(declared_scopes(config)))
    store = StateStore(config.auth.state)
    result = []
    try:
        for name, wanted, claims, sees in PERSONAS:
            scopes = every_scope if wanted == ALL_SCOPES else wanted
            store.remove_client(name)
            client_id, secret = create_client(store, name, Grant(tuple(scopes.split()), claims))
            result.append((name, client_id, secret, scopes, sees))
    finally:
        store.close()
    return result


def redis_answers(url: str) -> bool:
    """Whether a Redis server answers PING at `url` within half a second."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    except ValueError:
        return False
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()
