"""Test data encoders, written from the storage formats and independent of the decoders.

Packed decimals are built nibble by nibble, zoned decimals from the zone/digit
bytes (EBCDIC) or the overpunch letters (ASCII), binary fields with `struct`,
text with Python's codecs, RDW/BDW framing from the record descriptor layout.
"""

from __future__ import annotations

import struct
from decimal import Decimal

import ebcdic  # noqa: F401  (cp1047)

EBCDIC_PAGES = ("cp037", "cp500", "cp1047")


def digits_of(value: int | Decimal | str, digits: int, scale: int) -> tuple[bool, str]:
    """(negative, the value's digits left-padded to `digits`, implied point removed)."""
    sign, value_digits, exponent = Decimal(str(value)).as_tuple()
    assert isinstance(exponent, int) and exponent + scale >= 0, "more decimals than the scale"
    unscaled = int("".join(map(str, value_digits)) or "0") * 10 ** (exponent + scale)
    negative = bool(sign) and unscaled != 0
    text = str(unscaled).rjust(digits, "0")
    assert len(text) == digits, f"{value} does not fit {digits} digits"
    return negative, text


def comp3(value: int | Decimal | str, digits: int, scale: int = 0, *, signed: bool = True) -> bytes:
    negative, text = digits_of(value, digits, scale)
    nibbles = [int(c) for c in text]
    if len(nibbles) % 2 == 0:
        nibbles.insert(0, 0)  # an even digit count leaves a leading zero nibble
    nibbles.append(0xD if negative else (0xC if signed else 0xF))
    return bytes((nibbles[i] << 4) | nibbles[i + 1] for i in range(0, len(nibbles), 2))


def zoned_ebcdic(
    value: int | Decimal | str,
    digits: int,
    scale: int = 0,
    *,
    signed: bool = True,
    sign: str = "trailing",
) -> bytes:
    """EBCDIC zoned decimal: zone F per digit, the sign in the zone of one byte or a separate byte."""
    negative, text = digits_of(value, digits, scale)
    out = bytearray(0xF0 | int(c) for c in text)
    if not signed:
        return bytes(out)
    zone = 0xD0 if negative else 0xC0
    if sign == "trailing":
        out[-1] = zone | (out[-1] & 0x0F)
    elif sign == "leading":
        out[0] = zone | (out[0] & 0x0F)
    elif sign == "leading_separate":
        out.insert(0, 0x60 if negative else 0x4E)  # EBCDIC '-' and '+'
    elif sign == "trailing_separate":
        out.append(0x60 if negative else 0x4E)
    return bytes(out)


_ASCII_POSITIVE = "{ABCDEFGHI"
_ASCII_NEGATIVE = "}JKLMNOPQR"


def zoned_ascii(
    value: int | Decimal | str,
    digits: int,
    scale: int = 0,
    *,
    signed: bool = True,
    sign: str = "trailing",
) -> bytes:
    negative, text = digits_of(value, digits, scale)
    if not signed:
        return text.encode("ascii")
    table = _ASCII_NEGATIVE if negative else _ASCII_POSITIVE
    if sign == "trailing":
        text = text[:-1] + table[int(text[-1])]
    elif sign == "leading":
        text = table[int(text[0])] + text[1:]
    elif sign == "leading_separate":
        text = ("-" if negative else "+") + text
    elif sign == "trailing_separate":
        text = text + ("-" if negative else "+")
    return text.encode("ascii")


def binary(value: int, size: int, *, signed: bool = True) -> bytes:
    code = {2: "h", 4: "i", 8: "q"}[size]
    return struct.pack(">" + (code if signed else code.upper()), value)


def text(value: str, length: int, encoding: str) -> bytes:
    data = value.ljust(length).encode(encoding)
    assert len(data) == length
    return data


def rdw(record: bytes) -> bytes:
    return struct.pack(">HH", len(record) + 4, 0) + record


def bdw(records: list[bytes], *, extended: bool = False) -> bytes:
    body = b"".join(rdw(r) for r in records)
    if extended:
        return struct.pack(">I", (len(body) + 4) | 0x80000000) + body
    return struct.pack(">HH", len(body) + 4, 0) + body
