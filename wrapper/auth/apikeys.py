"""API keys for server-to-server consumers: `lwk_<prefix>_<secret>`.

The prefix identifies a key in listings and logs (it is not secret); only the
SHA-256 of the whole key is stored, and the key is shown once, at creation.
A checked key is remembered for `cache_seconds`, which bounds how long a
revocation takes to reach every worker.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

from wrapper.auth.principal import Principal
from wrapper.auth.store import Grant, StateStore, digest

PREFIX = "lwk"


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
    head, _, rest = key.partition("_")
    prefix, _, secret = rest.partition("_")
    if head != PREFIX or len(prefix) != 8 or len(secret) < 32:
        return None
    return prefix


class ApiKeyVerifier:
    def __init__(
        self,
        store: StateStore,
        *,
        cache_seconds: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[bytes, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def verify(self, key: str) -> Principal:
        now = self._clock()
        cache_key = hashlib.sha256(key.encode()).digest()
        hit = self._cache.get(cache_key)
        if hit is not None:
            principal, checked_at = hit
            fresh = now - checked_at < self.cache_seconds
            if fresh and (principal.expires_at is None or now < principal.expires_at):
                return principal
        principal = self._check(key, now)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[cache_key] = (principal, now)
        return principal

    def _check(self, key: str, now: float) -> Principal:
        prefix = split_key(key)
        record = self.store.api_key(prefix) if prefix else None
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
