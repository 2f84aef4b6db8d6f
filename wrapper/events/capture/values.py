"""Legacy values kept in the state database: keys, watermarks and row-rule values.

`pack` writes a tuple of legacy values as JSON text with the type of each
value, so that `unpack` gives back values a bound parameter compares exactly
as the legacy database compares the original (a `date` stays a date, a
`Decimal` keeps its digits). The text of a key is canonical: the same key
always packs to the same text, which is how the state database looks keys up.
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
import zlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

_TAGS: dict[type, str] = {
    Decimal: "n",
    dt.datetime: "t",
    dt.date: "d",
    dt.time: "h",
    dt.timedelta: "i",
    bytes: "b",
    uuid.UUID: "u",
}


def _tagged(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.timedelta):
        return {"i": value.total_seconds()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b": base64.b64encode(bytes(value)).decode()}
    tag = _TAGS.get(type(value))
    if tag is None:
        raise TypeError(f"cannot keep a {type(value).__name__} value in the state database")
    return {tag: value.isoformat() if tag in "tdh" else str(value)}


def _untagged(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((tag, text),) = value.items()
    match tag:
        case "n":
            return Decimal(text)
        case "t":
            return dt.datetime.fromisoformat(text)
        case "d":
            return dt.date.fromisoformat(text)
        case "h":
            return dt.time.fromisoformat(text)
        case "i":
            return dt.timedelta(seconds=text)
        case "b":
            return base64.b64decode(text)
        case "u":
            return uuid.UUID(text)
    raise ValueError(f"unknown value tag {tag!r}")


def pack(values: Sequence[Any]) -> str:
    return orjson.dumps([_tagged(v) for v in values]).decode()


def unpack(text: str) -> tuple[Any, ...]:
    return tuple(_untagged(v) for v in orjson.loads(text))


def column_hashes(values: Sequence[Any]) -> str:
    """Eight hex digits per column (CRC-32 of the value's repr): what changed in a
    row, column by column, without keeping its values."""
    return "".join(f"{zlib.crc32(repr(v).encode()):08x}" for v in values)


def changed_columns(before: str, after: str, columns: Sequence[str]) -> tuple[str, ...]:
    return tuple(
        c for i, c in enumerate(columns) if before[8 * i : 8 * i + 8] != after[8 * i : 8 * i + 8]
    )
