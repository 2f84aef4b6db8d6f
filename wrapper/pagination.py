"""Opaque keyset cursors, sealed with authenticated encryption.

A cursor carries the legacy values of the sort columns of the last row a page
returned, how many rows equal to it were already returned (only non-zero for
keyless tables with exact duplicate rows), and a fingerprint of the sort
order it belongs to, so a cursor used with another sort is refused instead of
silently returning the wrong rows. Rows inserted between pages never make a
page skip or repeat a row: the next page starts after a value, not an offset.

Those values may include columns the caller cannot see (a keyless table pages
over all its columns), so a cursor is sealed with AES-256-SIV (RFC 5297), an
authenticated encryption: the caller learns nothing from it and cannot change
it. SIV is deterministic: the same page always yields the same cursor, so a
page's body and ETag stay the same and conditional requests keep answering 304
(it reveals only that two cursors are equal). Layout, base64url unpadded::

    version (1 byte) | key id (4 bytes) | synthetic IV (16 bytes) | ciphertext

The version and key id are authenticated as associated data; the key id names a
key of the state database (`wrapper.cursor_keys`), so keys can be rotated.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import math
import re
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag

from wrapper.cursor_keys import KID_BYTES, KeyRing
from wrapper.lru import LRU
from wrapper.problems import InvalidParameter

FORMAT = b"\x01"
_HEADER = len(FORMAT) + KID_BYTES
_TAG = 16
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_INVALID = "cursor is not valid or has expired; use next_cursor as given, or start again"


def fingerprint(resource_id: str, order: Sequence[tuple[str, bool]]) -> str:
    text = resource_id + "|" + ",".join(("-" if d else "") + c for c, d in order)
    return hashlib.blake2s(text.encode(), digest_size=6).hexdigest()


def _tag(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):  # JSON numbers hold 64 bits; a NUMERIC key may not fit
        return value if -(2**63) <= value < 2**64 else {"i": str(value)}
    if isinstance(value, float):  # NaN and infinities have no JSON number
        return value if math.isfinite(value) else {"f": repr(value)}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, dt.datetime):
        return {"T": value.isoformat()}
    if isinstance(value, dt.date):
        return {"D": value.isoformat()}
    if isinstance(value, dt.time):
        return {"t": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    if isinstance(value, dt.timedelta):
        return {"s": [value.days, value.seconds, value.microseconds]}
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


_UNTAG = {
    "i": int,
    "f": float,
    "d": Decimal,
    "T": dt.datetime.fromisoformat,
    "D": dt.date.fromisoformat,
    "t": dt.time.fromisoformat,
    "b": base64.b64decode,
    "u": uuid.UUID,
    "s": lambda parts: dt.timedelta(*parts),
}


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        ((tag, text),) = value.items()
        return _UNTAG[tag](text)
    return value


class Cursors:
    """Seals and opens cursors with the keys of a `KeyRing`.

    Sealing is deterministic, so a sealed cursor is kept by (key id, plaintext):
    a polled page (the same last row) seals its next cursor once, not per request
    (AES-SIV costs about 6 µs; the lookup well under one)."""

    def __init__(self, keys: KeyRing, sealed_size: int = 4096) -> None:
        self.keys = keys
        self._sealed: LRU[tuple[bytes, bytes], str] = LRU(sealed_size)

    def encode(self, print_: str, values: Sequence[Any], skip: int) -> str:
        payload = orjson.dumps([print_, [_tag(v) for v in values], skip])
        kid, cipher = self.keys.current()
        found = self._sealed.get((kid, payload))
        if found is not None:
            return found
        header = FORMAT + kid
        sealed = header + cipher.encrypt(payload, [header])
        text = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")
        return self._sealed.put((kid, payload), text)

    def key_open(self, text: str) -> bool:
        """Whether the key that sealed cursor `text` still opens cursors (a plan
        kept for the cursor is used again only then; `decode` checks the rest)."""
        try:
            header = base64.urlsafe_b64decode(text[:8])[:_HEADER]  # 8 characters: 6 bytes
        except (binascii.Error, ValueError):
            return False
        return header[:1] == FORMAT and self.keys.find(header[1:]) is not None

    def decode(self, text: str, print_: str, width: int) -> tuple[tuple[Any, ...], int]:
        """The (values, skip) of a cursor made for this order; 400 otherwise."""
        payload = self.unseal(text)
        try:
            got_print, values, skip = orjson.loads(payload)
            values = tuple(_untag(v) for v in values)
        except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError):
            raise InvalidParameter("cursor", _INVALID) from None
        if got_print != print_:
            raise InvalidParameter(
                "cursor",
                "cursor belongs to another sort order or resource; start from the first page",
            )
        if len(values) != width or not isinstance(skip, int) or skip < 0:
            raise InvalidParameter("cursor", _INVALID)
        return values, skip

    def unseal(self, text: str) -> bytes:
        """What a cursor of this deployment says (JSON), for diagnostics; 400 otherwise."""
        if not _BASE64URL.fullmatch(text):
            raise InvalidParameter("cursor", _INVALID)
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise InvalidParameter("cursor", _INVALID) from None
        header, sealed = raw[:_HEADER], raw[_HEADER:]
        if not header.startswith(FORMAT) or len(sealed) <= _TAG:
            raise InvalidParameter("cursor", _INVALID)
        cipher = self.keys.find(header[len(FORMAT) :])
        if cipher is None:
            raise InvalidParameter("cursor", _INVALID)
        try:
            return cipher.decrypt(sealed, [header])
        except (InvalidTag, ValueError):
            raise InvalidParameter("cursor", _INVALID) from None


def next_skip(
    page_keys: Sequence[tuple[Any, ...]], after: tuple[Any, ...] | None, skip: int
) -> int:
    """For non-unique orders: how many rows equal to the page's last row have been
    returned so far (this page's trailing run, plus earlier pages' when the
    whole page was one run equal to the previous cursor)."""
    last = page_keys[-1]
    run = 0
    for key in reversed(page_keys):
        if key != last:
            break
        run += 1
    if run == len(page_keys) and after == last:
        run += skip
    return run
