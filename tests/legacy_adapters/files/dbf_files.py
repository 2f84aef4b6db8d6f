"""DBF and memo files written byte by byte from the xBase format descriptions, for the tests.

Table header: version, last update (YY MM DD), record count, header length,
record length, 20 reserved bytes (byte 29: language driver); 32-byte field
descriptors (name, type, displacement, length, decimals, flags); 0x0D; for
Visual FoxPro a 263-byte backlink; then the records (a flag byte, blank or
`*`, and the fields) and 0x1A.

Memo files: dBase III `.dbt` (512-byte blocks, text ended by 0x1A 0x1A);
dBase IV `.dbt` (block size at byte 20; blocks start `FF FF 08 00` and a
little-endian length that counts those 8 bytes); FoxPro `.fpt` (big-endian
block size at byte 6; blocks start with a big-endian type and length).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

DBASE3_MEMO, DBASE4_MEMO, FOXPRO2_MEMO, VFP = 0x83, 0x8B, 0xF5, 0x30


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    length: int
    decimals: int = 0
    flags: int = 0


def header(version: int, fields: list[Field], count: int, codepage: int = 0x03) -> bytes:
    record_length = 1 + sum(f.length for f in fields)
    header_length = 32 + 32 * len(fields) + 1 + (263 if version == VFP else 0)
    out = struct.pack("<B3BIHH", version, 124, 11, 30, count, header_length, record_length)
    out += bytes(17) + bytes([codepage]) + bytes(2)
    displacement = 1
    for f in fields:
        out += f.name.encode("ascii").ljust(11, b"\0") + f.type.encode("ascii")
        out += struct.pack("<IBBB", displacement, f.length, f.decimals, f.flags) + bytes(13)
        displacement += f.length
    out += b"\r"
    if version == VFP:
        out += bytes(263)
    return out


def table(version: int, fields: list[Field], records: list[tuple[bool, list[bytes]]]) -> bytes:
    """`records`: (deleted, the encoded bytes of each field)."""
    body = b""
    for deleted, values in records:
        assert [len(v) for v in values] == [f.length for f in fields]
        body += (b"*" if deleted else b" ") + b"".join(values)
    return header(version, fields, len(records)) + body + b"\x1a"


# ----------------------------------------------------------------------- field values


def char(value: str, length: int, encoding: str = "cp1252") -> bytes:
    return value.encode(encoding).ljust(length, b" ")


def numeric(value: object, length: int) -> bytes:
    return str(value).rjust(length).encode("ascii")


def day(value: date | None) -> bytes:
    return value.strftime("%Y%m%d").encode("ascii") if value else b" " * 8


def logical(value: bool | None) -> bytes:
    return b"?" if value is None else (b"T" if value else b"F")


def dbase_memo_pointer(block: int) -> bytes:
    return (str(block).rjust(10) if block else " " * 10).encode("ascii")


def vfp_memo_pointer(block: int) -> bytes:
    return struct.pack("<I", block)


def integer(value: int) -> bytes:
    return struct.pack("<i", value)


def double(value: float) -> bytes:
    return struct.pack("<d", value)


def currency(value: str) -> bytes:
    from decimal import Decimal

    return struct.pack("<q", int(Decimal(value) * 10000))


def timestamp(value: datetime) -> bytes:
    julian = value.date().toordinal() + 1721425  # Julian day number of the proleptic date
    millis = ((value.hour * 60 + value.minute) * 60 + value.second) * 1000
    return struct.pack("<II", julian, millis)


# ----------------------------------------------------------------------- memo files


def dbase3_memo(texts: list[bytes]) -> tuple[bytes, list[int]]:
    blocks, out = [], b""
    block = 1
    for text in texts:
        data = text + b"\x1a\x1a"
        data += b"\0" * (-len(data) % 512)
        blocks.append(block)
        block += len(data) // 512
        out += data
    return struct.pack("<I", block).ljust(512, b"\0") + out, blocks


def dbase4_memo(texts: list[bytes], block_size: int = 512) -> tuple[bytes, list[int]]:
    head = struct.pack("<I", 0).ljust(20, b"\0") + struct.pack("<H", block_size)
    head = head.ljust(block_size, b"\0")
    blocks, out = [], b""
    block = 1
    for text in texts:
        data = b"\xff\xff\x08\x00" + struct.pack("<I", len(text) + 8) + text
        data += b"GARBAGE!" + b"\0" * (-(len(data) + 8) % block_size)  # never part of a memo
        blocks.append(block)
        block += len(data) // block_size
        out += data
    return head + out, blocks


def fpt_memo(texts: list[bytes], block_size: int = 64) -> tuple[bytes, list[int]]:
    first = 512 // block_size
    blocks, out = [], b""
    block = first
    for text in texts:
        data = struct.pack(">II", 1, len(text)) + text
        data += b"\0" * (-len(data) % block_size)
        blocks.append(block)
        block += len(data) // block_size
        out += data
    head = struct.pack(">IHH", block, 0, block_size).ljust(512, b"\0")
    return head + out, blocks


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
