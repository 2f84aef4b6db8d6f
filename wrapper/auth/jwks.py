"""Where token verification keys come from: a JWKS URL, a key file, a shared secret,
or the built-in server's own keys.

A JWKS is fetched once and cached; a token signed with a `kid` the cache does
not know triggers a refetch (at most once per `min_refetch` seconds, so a flood
of forged kids cannot hammer the identity provider), which is how key rotation
works without a restart. A failed fetch keeps the keys already known.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

log = logging.getLogger(__name__)

KTY = {"RS256": "RSA", "ES256": "EC", "HS256": "oct"}
MAX_JWKS_BYTES = 1 << 20

Key = RSAKey | ECKey | OctKey


class KeyProvider(Protocol):
    def key(self, kid: str | None, alg: str) -> Key | None: ...


def pick(keys: KeySet | None, kid: str | None, alg: str) -> Key | None:
    """The key for `kid` whose type fits `alg`; without a kid, the only such key."""
    if keys is None:
        return None
    kty = KTY.get(alg)
    fitting = [k for k in keys if k.key_type == kty and k.get("alg") in (None, alg)]
    if kid is not None:
        return next((k for k in fitting if k.kid == kid), None)
    return fitting[0] if len(fitting) == 1 else None


class StaticKeys:
    """Keys known at start: a key file or a shared secret."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys

    def key(self, kid: str | None, alg: str) -> Key | None:
        return pick(self.keys, kid, alg)


class CachedKeys:
    """Keys fetched by `fetch` (a JWKS URL, the state database), cached for `ttl`
    seconds and refetched on an unknown kid at most every `min_refetch` seconds."""

    def __init__(
        self,
        fetch: Callable[[], dict[str, Any]],
        *,
        ttl: float = 300.0,
        min_refetch: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        name: str = "JWKS",
    ) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self.min_refetch = min_refetch
        self._clock = clock
        self._name = name
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._attempted_at = float("-inf")
        self._lock = threading.Lock()
        self.fetches = 0

    def prefetch(self) -> None:
        """Fetch once at start, so a wrong URL shows in the log before the first request."""
        self._refresh(self._clock(), force=True)

    def key(self, kid: str | None, alg: str) -> Key | None:
        now = self._clock()
        if self._keys is None or now - self._fetched_at > self.ttl:
            self._refresh(now, force=False)
        found = pick(self._keys, kid, alg)
        if found is None and now - self._attempted_at >= self.min_refetch:
            self._refresh(now, force=True)
            found = pick(self._keys, kid, alg)
        return found

    def _refresh(self, now: float, *, force: bool) -> None:
        with self._lock:
            stale = self._keys is None or now - self._fetched_at > self.ttl
            if not force and not stale:
                return  # another thread refreshed meanwhile
            if now - self._attempted_at < self.min_refetch:
                return  # at most one fetch per min_refetch, even while the provider is down
            self._attempted_at = now
            self.fetches += 1
            try:
                self._keys = KeySet.import_key_set(self._fetch())  # type: ignore[arg-type]
                self._fetched_at = now
            except Exception as err:  # keep serving with the keys already known
                log.warning("cannot refresh %s: %s", self._name, err)


def fetch_url(url: str, timeout: float = 5.0) -> Callable[[], dict[str, Any]]:
    def fetch() -> dict[str, Any]:
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError(f"{url} answered more than {MAX_JWKS_BYTES} bytes")
        document = json.loads(body)
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError(f"{url} is not a JWK set")
        return document

    return fetch


def load_key_file(path: Path) -> KeySet:
    """A PEM public key, a JWK or a JWK set."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"{"):
        document = json.loads(data)
        if "keys" not in document:
            document = {"keys": [document]}
        keys = KeySet.import_key_set(document)
    else:
        try:
            key: Key = RSAKey.import_key(data)
        except Exception:
            key = ECKey.import_key(data)
        keys = KeySet([key])
    for key in keys:
        if key.is_private:
            raise ValueError(f"{path} holds a private key; give the public key only")
    return keys


def shared_secret(secret: str) -> KeySet:
    return KeySet([OctKey.import_key(secret.encode())])
