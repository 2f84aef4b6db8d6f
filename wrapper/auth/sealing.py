"""Secrets in the state database, encrypted with a key the operator supplies.

The state key is 32 random bytes written in base64url (`legacy-wrapper
signing-keys new-state-key`). It comes from the environment variable
`LEGACY_WRAPPER_STATE_KEY` or, when that is unset, from the file named by
`auth.server.state_key_file`; it is never stored in the state database, so a
copy of that database alone opens nothing. Values are sealed with AES-256-GCM
(`cryptography`) under a random 96-bit nonce, and bound to what they are: the
associated data names the row, so a sealed value moved to another row does
not open.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_VAR = "LEGACY_WRAPPER_STATE_KEY"
VERSION = "v1."  # the prefix of every sealed value: AES-256-GCM, nonce then ciphertext
NONCE_BYTES = 12
HOW_TO_CREATE = "create one with `legacy-wrapper signing-keys new-state-key --out state.key`"


class StateKeyError(Exception):
    """The state key is missing, malformed or not the one a value was sealed with;
    the message says what to do and never contains key material."""


class StateKey:
    """An AES-256-GCM key that seals and opens values of the state database."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise StateKeyError("a state key is 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:  # never print the key
        return "StateKey(...)"

    def seal(self, plaintext: bytes, context: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, context: str) -> bytes:
        if not sealed.startswith(VERSION):
            raise StateKeyError(f"{context} is not sealed in a known format")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(VERSION) :])
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except (InvalidTag, ValueError):  # binascii.Error is a ValueError
            raise StateKeyError(
                f"the state key does not open {context}: it was sealed with another state key"
            ) from None


def new_state_key() -> str:
    """A fresh state key, as the environment variable or the key file holds it."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def parse_state_key(text: str, where: str) -> StateKey:
    value = text.strip()
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise StateKeyError(f"{where} is not a state key (32 bytes in base64url); {HOW_TO_CREATE}")
    return StateKey(raw)


def load_state_key(key_file: Path | None, environ: Mapping[str, str] = os.environ) -> StateKey:
    """The operator's state key: the environment variable, else the key file."""
    if environ.get(ENV_VAR):
        return parse_state_key(environ[ENV_VAR], ENV_VAR)
    if key_file is None:
        raise StateKeyError(
            "the built-in token server keeps its signing keys encrypted with a state key "
            f"you supply: set {ENV_VAR} or name a key file in auth.server.state_key_file; "
            + HOW_TO_CREATE
        )
    try:
        text = key_file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not ASCII"
        raise StateKeyError(
            f"cannot read the state key file {key_file} ({reason}); {HOW_TO_CREATE}"
        ) from None
    return parse_state_key(text, f"the state key file {key_file}")


def write_state_key_file(path: Path) -> None:
    """Create `path` holding a new state key, readable by its owner only; an existing
    file is never overwritten (the keys it opens would be lost)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(new_state_key() + "\n")
