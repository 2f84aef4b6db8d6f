"""API keys for server-to-server consumers: `lwk_<prefix>_<secret>`.

The prefix identifies a key in listings and logs (it is not secret); only the
SHA-256 of the whole key is stored, and the key is shown once, at creation.
A checked key is remembered for `cache_seconds`, which bounds how long a
revocation takes to reach every worker. A refused key (unknown, revoked or
expired) is remembered for `refused_seconds`: none of these can become valid
again, so a client retrying a bad key costs one state-database lookup per
period, not one per request. Both memories are bounded in size.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from wrapper.auth.principal import Principal
from wrapper.state.store import Grant, StateStore, digest

PREFIX = "lwk"
_WELL_FORMED = re.compile(r"lwk_([0-9a-f]{8})_[A-Za-z0-9_-]{32,128}")
CACHE_SIZE = 10_000  # keys remembered per worker, accepted and refused each


class ApiKeyError(Exception):
    """The key cannot be accepted; the message is safe to show the caller."""


def create_api_key(
    store: StateStore, name: str, grant: Grant, expires_at: float | None
) -> tuple[str, str]:
    """Store a new key; returns (prefix, the full key to show once)."""
    prefix = secrets.token_hex(4)
    key = f"{PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    store.add_api_key(prefix, name, key, grant, expires_at)
    return prefix, key


def split_key(key: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    match = _WELL_FORMED.fullmatch(key)
    return match[1] if match else None


class ApiKeyVerifier:
    def __init__(
        self,
        store: StateStore,
        *,
        cache_seconds: float = 10.0,
        refused_seconds: float = 60.0,
        cache_size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._clock = clock
        self._accepted: TTLCache[bytes, Principal] | None = (
            TTLCache(cache_size, cache_seconds, timer=clock) if cache_seconds > 0 else None
        )
        self._refused: TTLCache[bytes, str] | None = (
            TTLCache(cache_size, refused_seconds, timer=clock) if refused_seconds > 0 else None
        )
        self._lock = threading.Lock()

    def verify(self, key: str) -> Principal:
        prefix = split_key(key)
        if prefix is None:
            raise ApiKeyError("the API key is not valid")
        now = self._clock()
        cache_key = hashlib.sha256(key.encode()).digest()
        with self._lock:
            refused = self._refused.get(cache_key) if self._refused is not None else None
            accepted = self._accepted.get(cache_key) if self._accepted is not None else None
        if refused is not None:
            raise ApiKeyError(refused)
        if accepted is not None and (accepted.expires_at is None or now < accepted.expires_at):
            return accepted
        try:
            principal = self._check(prefix, key, now)
        except ApiKeyError as err:
            if self._refused is not None:
                with self._lock:
                    self._refused[cache_key] = str(err)
            raise
        if self._accepted is not None:
            with self._lock:
                self._accepted[cache_key] = principal
        return principal

    def _check(self, prefix: str, key: str, now: float) -> Principal:
        record = self.store.api_key(prefix)
        if record is None or not hmac.compare_digest(record.secret_sha256, digest(key)):
            raise ApiKeyError("the API key is not valid")
        if record.revoked_at is not None:
            raise ApiKeyError("the API key has been revoked")
        if not record.usable(now):
            raise ApiKeyError("the API key has expired")
        return Principal(
            f"key:{prefix}",
            frozenset(record.grant.scopes),
            record.grant.claims,
            record.expires_at,
        )
