"""Standard Webhooks signatures.

Each request carries `webhook-id` (the event id, the same on every retry and
redelivery), `webhook-timestamp` (seconds since the epoch, of this attempt)
and `webhook-signature`: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
one per valid secret, space-separated, so a receiver holding either the old or
the new secret verifies while a rotated secret overlaps. Secrets are
`whsec_<base64 of 32 random bytes>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for; ValueError when it is malformed."""
    if not secret.startswith(PREFIX):
        raise ValueError(f"a signing secret starts with {PREFIX}")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError("a signing secret is base64 after its prefix") from None
    if len(key) < 24:
        raise ValueError("a signing secret holds at least 24 bytes")
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(
    msg_id: str, timestamp: int, body: bytes, keys: Sequence[bytes]
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed with every key in ``keys``."""
    if not keys:
        raise ValueError("a webhook is signed with at least one secret")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(k, msg_id, timestamp, body) for k in keys),
    }
