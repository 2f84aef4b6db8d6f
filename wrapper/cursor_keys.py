"""The keys that seal cursors, kept in the wrapper's state database.

Every worker and every host sharing a state database uses the same keys, and
they survive restarts, so a cursor stays usable whichever process serves the
next page. The first start creates a key; `legacy-wrapper cursor-keys rotate`
adds a new current key and keeps the previous ones opening cursors for a grace
period (default 7 days; `--grace 0s` ends it at once for every older key, after
a leak), after which their cursors are refused like forged ones. Each process
reads the keys once a minute, so a rotation reaches every worker within a
minute, and at once when a cursor names a key it does not know yet (at most
once a second, so forged key ids cannot flood the state database).
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import click
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from wrapper.state.store import CursorKey, StateStore

log = logging.getLogger(__name__)

KID_BYTES = 4
SECRET_BYTES = 64  # AES-256-SIV (two 256-bit keys)
DEFAULT_GRACE = 7 * 86400.0


def new_key(store: StateStore, retire_old_at: float | None) -> str:
    """Add a new current key; returns its id."""
    for _ in range(3):
        kid = secrets.token_hex(KID_BYTES)
        try:
            store.add_cursor_key(kid, secrets.token_bytes(SECRET_BYTES), retire_old_at)
        except sa.exc.IntegrityError:  # the same random id twice: draw again
            continue
        return kid
    raise RuntimeError("could not store a new cursor key")


def ensure_key(store: StateStore) -> None:
    """Create the first key when there is no current one. Workers starting at the
    same moment may each add one: all of them open cursors, the newest seals."""
    if not any(k.retire_at is None for k in store.cursor_keys()):
        new_key(store, retire_old_at=None)


def rotate(store: StateStore, grace: float = DEFAULT_GRACE, now: float | None = None) -> str:
    """A new current key; the previous ones open cursors for `grace` more seconds."""
    now = time.time() if now is None else now
    return new_key(store, retire_old_at=now + grace)


class KeyRing:
    """This process's copy of the cursor keys."""

    REFRESH = 60.0  # seconds between reads of the state database
    MISS_REFRESH = 1.0  # at least this long between reads caused by unknown key ids

    def __init__(self, store: StateStore, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[bytes, AESSIV] = {}
        self._current: tuple[bytes, AESSIV] | None = None
        self._loaded_at = -float("inf")
        self._load()

    def current(self) -> tuple[bytes, AESSIV]:
        """(key id, cipher) of the key that seals new cursors."""
        self._refresh()
        assert self._current is not None
        return self._current

    def find(self, kid: bytes) -> AESSIV | None:
        """The cipher of key `kid`, or None when it is unknown or retired."""
        self._refresh()
        cipher = self._keys.get(kid)
        if cipher is None and self.clock() - self._loaded_at >= self.MISS_REFRESH:
            self._load()
            cipher = self._keys.get(kid)
        return cipher

    def _refresh(self) -> None:
        if self.clock() - self._loaded_at >= self.REFRESH:
            self._load()

    def _load(self) -> None:
        with self._lock:
            try:
                keys = self.store.cursor_keys()
                if not keys:
                    ensure_key(self.store)
                    keys = self.store.cursor_keys()
            except sa.exc.SQLAlchemyError as err:
                if self._current is None:
                    raise
                log.warning("cannot read the cursor keys, keeping the known ones: %s", err)
                self._loaded_at = self.clock()
                return
            self._install(keys)

    def _install(self, keys: list[CursorKey]) -> None:
        ciphers: dict[bytes, AESSIV] = {}
        for key in keys:
            kid = bytes.fromhex(key.kid)
            ciphers[kid] = self._keys.get(kid) or AESSIV(key.secret)
        self._keys = ciphers
        newest = next((k for k in keys if k.retire_at is None), keys[0])
        kid = bytes.fromhex(newest.kid)
        self._current = (kid, self._keys[kid])
        self._loaded_at = self.clock()


# ---------------------------------------------------------------------------- command line

_DURATION = re.compile(r"([0-9]+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _store(config_path: Path) -> StateStore:
    from wrapper.config import ConfigError, load_config

    try:
        config = load_config(config_path)
    except ConfigError as err:
        problems = "\n".join(f"  {p}" for p in err.problems)
        click.echo(f"the configuration has problems:\n{problems}", err=True)
        sys.exit(2)
    return StateStore(config.state.url)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="The configuration file (its `state` names the state database).",
)


@click.group("cursor-keys")
def cursor_keys() -> None:
    """The keys that seal pagination cursors."""


@cursor_keys.command("rotate")
@config_option
@click.option(
    "--grace",
    default="7d",
    show_default=True,
    help="How long cursors sealed with the previous keys stay usable (30m, 24h, 7d).",
)
def cursor_keys_rotate(config_path: Path, grace: str) -> None:
    """A new key seals cursors; older ones open theirs until the grace period ends."""
    match = _DURATION.fullmatch(grace)
    if not match:
        click.echo(f"--grace takes a number and a unit (s, m, h, d), not {grace!r}", err=True)
        sys.exit(2)
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    store = _store(config_path)
    try:
        kid = rotate(store, seconds)
    finally:
        store.close()
    click.echo(f"new cursor key {kid}; every worker uses it within a minute", err=True)


@cursor_keys.command("list")
@config_option
def cursor_keys_list(config_path: Path) -> None:
    """The keys that open cursors: the current one and those in their grace period."""
    store = _store(config_path)
    try:
        keys = store.cursor_keys()
    finally:
        store.close()
    for k in keys:
        until = (
            "current"
            if k.retire_at is None
            else "opens cursors until "
            + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(k.retire_at))
        )
        click.echo(
            f"{k.kid}  created {time.strftime('%Y-%m-%d', time.gmtime(k.created_at))}  {until}"
        )
