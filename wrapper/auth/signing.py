"""The built-in server's signing keys: generated on first start, rotated by command.

After a rotation the previous keys stay published in `/.well-known/jwks.json`
for a token lifetime (plus the clock skew and a refresh margin), so every token
they signed stays valid until it expires.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey

from wrapper.auth.config import AuthConfig, ServerConfig
from wrapper.auth.store import StateStore

REFRESH_SECONDS = 30.0  # how long a worker may keep signing with a key after a rotation


def generate_key(alg: str) -> tuple[str, dict[str, Any]]:
    kid = time.strftime("%Y%m%d-") + secrets.token_hex(4)
    params = {"kid": kid, "alg": alg, "use": "sig"}
    if alg == "ES256":
        key: RSAKey | ECKey = ECKey.generate_key("P-256", parameters=params)  # type: ignore[arg-type]
    else:
        key = RSAKey.generate_key(2048, parameters=params)  # type: ignore[arg-type]
    return kid, key.as_dict(private=True)


def rotate(store: StateStore, auth: AuthConfig) -> str:
    """A new active signing key; the old ones stay published until their tokens expire."""
    assert auth.server is not None
    kid, jwk = generate_key(auth.server.algorithm)
    keep = auth.server.token_lifetime + auth.clock_skew + REFRESH_SECONDS + 60
    store.add_signing_key(kid, auth.server.algorithm, jwk, retire_old_at=time.time() + keep)
    return kid


def ensure_key(store: StateStore, auth: AuthConfig) -> None:
    """Generate the first signing key on first start (two processes racing here
    both add a key; both stay published, the later one signs)."""
    if not any(k.active for k in store.signing_keys()):
        rotate(store, auth)


def public_jwks(store: StateStore) -> dict[str, Any]:
    keys = KeySet.import_key_set({"keys": [k.private_jwk for k in store.signing_keys()]})
    return keys.as_dict(private=False)


class Signer:
    """The active private key, reread from the state database every 30 seconds."""

    def __init__(self, store: StateStore, server: ServerConfig) -> None:
        self.store = store
        self.server = server
        self._keys: KeySet | None = None
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def active_keys(self) -> KeySet:
        now = time.monotonic()
        with self._lock:
            if self._keys is None or now - self._read_at > REFRESH_SECONDS:
                active = [k for k in self.store.signing_keys() if k.active]
                if not active:
                    raise RuntimeError(
                        "no active signing key; run `legacy-wrapper signing-keys rotate`"
                    )
                self._keys = KeySet.import_key_set({"keys": [active[0].private_jwk]})
                self._read_at = now
            return self._keys
