"""The `state:` section: the wrapper's own database (clients, keys, cursor keys,
subscriptions, the outbox), never the legacy one.

`state: path-or-URL` or `state: {url: ...}`; a plain path is a SQLite file
relative to the configuration file; default `wrapper-state.db` next to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wrapper.config.located import Located, Problems, unknown_keys

DEFAULT_STATE = "wrapper-state.db"


@dataclass(frozen=True)
class StateConfig:
    url: str  # SQLAlchemy URL; `sqlite://` (in memory) for a configuration without a file


def state_url(value: str, base_dir: Path) -> str:
    """A plain path is a SQLite file relative to the configuration file."""
    if "://" in value:
        return value
    path = Path(value)
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    return f"sqlite:///{path}"


def parse_state(raw: Located, base_dir: Path | None, problems: Problems) -> StateConfig:
    """Without a folder (a configuration parsed from text) the default is in memory."""
    node = raw.get("state")
    if isinstance(node, Located):
        unknown_keys(node, {"url"}, "state", problems)
        node = node.get("url")
    if node is None:
        if base_dir is None:
            return StateConfig("sqlite://")
        return StateConfig(state_url(DEFAULT_STATE, base_dir))
    if not isinstance(node, str) or not node:
        problems.at(raw, "state", "state", "a SQLite file path or a SQLAlchemy URL")
        return StateConfig("sqlite://")
    return StateConfig(state_url(node, base_dir if base_dir is not None else Path(".")))
