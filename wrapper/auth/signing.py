"""The built-in server's signing keys: generated on first start, rotated by command,
and kept encrypted with the operator's state key (see `sealing`).

A stored key is `{"public": <public JWK>, "sealed": <private JWK, sealed>}`:
publishing and verifying need only the public part, signing opens the active
key. Keys stored in clear by earlier versions (a bare private JWK) are sealed
in place the first time the server or a `signing-keys` command runs with the
state key.

After a rotation the previous keys stay published in `/.well-known/jwks.json`
for a token lifetime (plus the clock skew and a refresh margin), so every token
they signed stays valid until it expires.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey

from wrapper.auth.sealing import StateKey, StateKeyError
from wrapper.config.auth import AuthConfig
from wrapper.state.store import SigningKey, StateStore

log = logging.getLogger(__name__)
REFRESH_SECONDS = 30.0  # how long a worker may keep signing with a key after a rotation


def generate_key(alg: str) -> tuple[str, dict[str, Any]]:
    kid = time.strftime("%Y%m%d-") + secrets.token_hex(4)
    params = {"kid": kid, "alg": alg, "use": "sig"}
    if alg == "ES256":
        key: RSAKey | ECKey = ECKey.generate_key("P-256", parameters=params)  # type: ignore[arg-type]
    else:
        key = RSAKey.generate_key(2048, parameters=params)  # type: ignore[arg-type]
    return kid, key.as_dict(private=True)


def _context(kid: str) -> str:
    return f"signing key {kid}"


def seal(kid: str, private_jwk: dict[str, Any], state_key: StateKey) -> dict[str, Any]:
    """What the state database stores for a key: its public part and the sealed whole."""
    public = KeySet.import_key_set({"keys": [private_jwk]}).as_dict(private=False)["keys"][0]
    sealed = state_key.seal(json.dumps(private_jwk).encode(), _context(kid))
    return {"public": public, "sealed": sealed}


def is_sealed(key: SigningKey) -> bool:
    return "sealed" in key.material


def public_jwk(key: SigningKey) -> dict[str, Any]:
    if is_sealed(key):
        return key.material["public"]
    return KeySet.import_key_set({"keys": [key.material]}).as_dict(private=False)["keys"][0]


def private_jwk(key: SigningKey, state_key: StateKey) -> dict[str, Any]:
    if not is_sealed(key):
        raise StateKeyError(f"{_context(key.kid)} is stored in clear; start the server to seal it")
    return json.loads(state_key.open(key.material["sealed"], _context(key.kid)))


def rotate(store: StateStore, auth: AuthConfig, state_key: StateKey) -> str:
    """A new active signing key; the old ones stay published until their tokens expire."""
    assert auth.server is not None
    seal_stored_keys(store, state_key)
    kid, jwk = generate_key(auth.server.algorithm)
    keep = auth.server.token_lifetime + auth.clock_skew + REFRESH_SECONDS + 60
    material = seal(kid, jwk, state_key)
    store.add_signing_key(kid, auth.server.algorithm, material, retire_old_at=time.time() + keep)
    return kid


def seal_stored_keys(store: StateStore, state_key: StateKey) -> int:
    """Seal every key stored in clear (published or retired); returns how many."""
    sealed = 0
    for key in store.signing_keys(retired=True):
        if not is_sealed(key) and store.replace_signing_key_material(
            key.kid, key.material, seal(key.kid, key.material, state_key)
        ):
            sealed += 1
    if sealed:
        log.warning("encrypted %d signing key(s) that were stored in clear", sealed)
    return sealed


def ensure_key(store: StateStore, auth: AuthConfig, state_key: StateKey) -> None:
    """At start: seal keys stored in clear, generate the first signing key (two
    processes racing here both add a key; both stay published, the later one
    signs), and check that the state key opens the active key."""
    seal_stored_keys(store, state_key)
    if not any(k.active for k in store.signing_keys()):
        rotate(store, auth, state_key)
    active = next(k for k in store.signing_keys() if k.active)
    try:
        private_jwk(active, state_key)
    except StateKeyError as err:
        raise StateKeyError(
            f"{err}; give that state key, or run `legacy-wrapper signing-keys rotate` with "
            "this one to sign with a new key from now on"
        ) from None


def public_jwks(store: StateStore) -> dict[str, Any]:
    return {"keys": [public_jwk(k) for k in store.signing_keys()]}


class Signer:
    """The active private key, reread from the state database every 30 seconds."""

    def __init__(self, store: StateStore, state_key: StateKey) -> None:
        self.store = store
        self.state_key = state_key
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
                jwk = private_jwk(active[0], self.state_key)
                self._keys = KeySet.import_key_set({"keys": [jwk]})
                self._read_at = now
            return self._keys
