"""Opaque keyset cursors.

A cursor carries the legacy values of the sort columns of the last row a page
returned, how many rows equal to it were already returned (only non-zero for
keyless tables with exact duplicate rows), and a fingerprint of the sort
order it belongs to, so a cursor used with another sort is refused instead of
silently returning the wrong rows. Rows inserted between pages never make a
page skip or repeat a row: the next page starts after a value, not an offset.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from wrapper.problems import InvalidParameter


def fingerprint(resource_id: str, order: Sequence[tuple[str, bool]]) -> str:
    text = resource_id + "|" + ",".join(("-" if d else "") + c for c, d in order)
    return hashlib.blake2s(text.encode(), digest_size=6).hexdigest()


def _tag(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
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
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


_UNTAG = {
    "d": Decimal,
    "T": dt.datetime.fromisoformat,
    "D": dt.date.fromisoformat,
    "t": dt.time.fromisoformat,
    "b": base64.b64decode,
}


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        ((tag, text),) = value.items()
        return _UNTAG[tag](text)
    return value


def encode_cursor(print_: str, values: Sequence[Any], skip: int) -> str:
    payload = orjson.dumps([print_, [_tag(v) for v in values], skip])
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")


def decode_cursor(text: str, print_: str, width: int) -> tuple[tuple[Any, ...], int]:
    """The (values, skip) of a cursor made for this order; 400 otherwise."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        got_print, values, skip = orjson.loads(raw)
        values = tuple(_untag(v) for v in values)
    except (binascii.Error, ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        raise InvalidParameter("cursor", "cursor is not valid; use next_cursor as given") from None
    if got_print != print_:
        raise InvalidParameter(
            "cursor", "cursor belongs to another sort order or resource; start from the first page"
        )
    if len(values) != width or not isinstance(skip, int) or skip < 0:
        raise InvalidParameter("cursor", "cursor is not valid; use next_cursor as given")
    return values, skip


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
