"""DBF exports: dBase III and IV, FoxPro 2, Visual FoxPro, with `.dbt`/`.fpt` memo files.

`dbfread` reads the header, the field descriptors, the code page (from the
language driver byte, unless `encoding` is given) and decodes the field types
C, N, F, D, L, M, I, B, Y, T, @, +, O, G, P, V. This module walks the records
itself so that every error names its record number, byte offset and field,
and adds what dbfread leaves out:

- N and F fields are `int` without decimals and exact `Decimal` with them
  (dbfread returns `float`); a field of `*` (a dBase overflow) is an error.
- Visual FoxPro `_NullFlags`: nullable fields read as `None` when their null
  bit is set, and varchar (V) fields get their true length.
- dBase IV memo blocks (`FF FF 08 00`, length including the 8-byte header) and
  the block size of the `.dbt` header.
- A record flag other than blank (live) or `*` (deleted) is an error.
- A Visual FoxPro table whose only "memo-like" fields are B (doubles there)
  needs no memo file.

Deleted records (flag `*`) are skipped (yielded as `None`, counted in
`deleted`): a DBF keeps them only until the table is packed, and the
application no longer sees them.
The header's record count is authoritative: a file that ends before it is
truncated (an error); bytes after it are not records.

Character fields come without their trailing pad spaces (as dbfread reads
them); a character or memo field flagged binary (Visual FoxPro) is `bytes`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from dbfread import DBF
from dbfread.exceptions import DBFNotFound
from dbfread.field_parser import FieldParser
from dbfread.memo import DB3MemoFile, FakeMemoFile, MemoFile, VFPMemoFile

from legacy_adapters.files.layout import MAX_INTEGER_DIGITS
from legacy_adapters.files.records import Column, FileFormatError, RecordError, Row

VFP_VERSIONS = (0x30, 0x31, 0x32)
DBASE3_MEMO = 0x83
NULLABLE, BINARY, SYSTEM = 0x02, 0x04, 0x01
CHUNK_RECORDS = 4096


class _Parser(FieldParser):
    """dbfread's field parser with exact numbers and binary varbinary fields."""

    def parseN(self, field: Any, data: bytes) -> int | Decimal | None:
        text = data.strip()
        if not text:
            return None
        if text.strip(b"*") == b"":
            raise ValueError(f"numeric overflow marker {data.decode('latin-1')!r}")
        if field.decimal_count:
            value = Decimal(text.replace(b",", b".").decode("ascii"))
            if not value.is_finite():
                raise ValueError(f"{text!r} is not a number")
            return value
        return int(text)

    parseF = parseN

    def parseQ(self, field: Any, data: bytes) -> bytes:
        return data

    def function(self, field_type: str) -> Callable[[Any, bytes], Any]:
        """The parse function of a field type (dbfread looks it up on every call)."""
        return self._lookup[field_type]


class _DBase4Memo(MemoFile):
    """dBase IV memo: blocks of the header's size; `FF FF 08 00` + length (with the header)."""

    def _init(self) -> None:
        self.file.seek(20)
        size = struct.unpack("<H", self.file.read(2) or b"\0\0")[0]
        self.block_size = size or 512

    def __getitem__(self, index: int) -> bytes | None:
        if index <= 0:
            return None
        self._seek(index * self.block_size)
        head = self._read(8)
        if head[:4] == b"\xff\xff\x08\x00":
            length = struct.unpack("<L", head[4:])[0]
            data = self._read(length - 8)
            if len(data) != length - 8:
                raise OSError("the memo file ends inside a memo")
            return data
        data = head  # a dBase III style block: text up to X'1A'
        while b"\x1a" not in data:
            more = self._read(self.block_size)
            if not more:
                break
            data += more
        return data.split(b"\x1a", 1)[0]


def _column(field: Any, vfp: bool) -> Column | None:
    kind, length, decimals = field.type, field.length, field.decimal_count
    binary = vfp and field.reserved1 & 0xFF & BINARY
    if (vfp and field.reserved1 & 0xFF & SYSTEM) or kind == "0":
        return None
    if kind in "CV":  # never null, unless a Visual FoxPro field allows it
        nullable = bool(vfp and field.reserved1 & 0xFF & NULLABLE)
        return Column(field.name, "bytes" if binary else "text", nullable=nullable)
    if kind == "M":
        return Column(field.name, "bytes" if binary else "text")
    if kind in "NF":
        if decimals:
            return Column(field.name, "decimal", precision=max(length - 1, 1), scale=decimals)
        if length <= MAX_INTEGER_DIGITS:
            return Column(field.name, "integer", precision=length)
        return Column(field.name, "decimal", precision=length, scale=0)
    if kind in "I+":
        return Column(field.name, "integer", precision=10)
    if kind == "Y":
        return Column(field.name, "decimal", precision=19, scale=4)
    if kind == "D":
        return Column(field.name, "date")
    if kind in "T@":
        return Column(field.name, "datetime")
    if kind == "L":
        return Column(field.name, "boolean")
    if kind == "O" or (kind == "B" and vfp):
        return Column(field.name, "float")
    return Column(field.name, "bytes")  # G, P, Q, dBase B


class DbfReader:
    def __init__(self, path: str | Path, *, encoding: str | None = None) -> None:
        self._path = Path(path)
        name = str(self._path)
        try:
            self.table = DBF(
                name,
                encoding=encoding,
                ignorecase=False,
                parserclass=_Parser,
                char_decode_errors="strict",
                ignore_missing_memofile=True,  # checked below: a VFP B field is no memo
            )
        except (DBFNotFound, FileNotFoundError):
            raise FileFormatError(name, "no such file") from None
        except (ValueError, struct.error, UnicodeDecodeError) as exc:
            raise FileFormatError(name, f"not a readable DBF file: {exc}") from None
        header = self.table.header
        self.version = header.dbversion
        self.vfp = self.version in VFP_VERSIONS
        memo_types = "MGP" if self.vfp else "MGPB"
        if self.table.memofilename is None and any(f.type in memo_types for f in self.table.fields):
            raise FileFormatError(name, "the table has memo fields but no .dbt/.fpt file")
        self.deleted = 0
        self._fields = self._plan()
        self._columns = tuple(c for _, _, _, c, _, _ in self._fields if c is not None)
        size = self._path.stat().st_size
        if header.headerlen > size or header.recordlen < 1:
            raise FileFormatError(name, "the header describes more bytes than the file holds")

    @property
    def path(self) -> Path:
        return self._path

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    def locate(self, record: int) -> tuple[int, bytes, int | None]:
        header = self.table.header
        offset = header.headerlen + (record - 1) * header.recordlen
        with open(self._path, "rb") as f:
            f.seek(offset)
            return offset, f.read(header.recordlen), None

    def _plan(self) -> list[tuple[Any, int, int, Column | None, int | None, int | None]]:
        """Per field: (descriptor, start, end, column, null bit, varlength bit)."""
        plan = []
        pos = 1  # after the deletion flag
        bit = 0
        for field in self.table.fields:
            flags = field.reserved1 & 0xFF if self.vfp else 0
            varlength = null = None
            if self.vfp and field.type in "VQ":
                varlength, bit = bit, bit + 1
            if self.vfp and flags & NULLABLE:
                null, bit = bit, bit + 1
            plan.append((field, pos, pos + field.length, _column(field, self.vfp), null, varlength))
            pos += field.length
        if pos != self.table.header.recordlen:
            raise FileFormatError(
                str(self._path),
                f"the fields take {pos} bytes but the header's record length is "
                f"{self.table.header.recordlen}",
            )
        return plan

    def _memo(self) -> MemoFile:
        memo = self.table.memofilename
        if not memo:
            return FakeMemoFile(None)
        if memo.lower().endswith(".fpt"):
            return VFPMemoFile(memo)
        if self.version == DBASE3_MEMO:
            return DB3MemoFile(memo)
        return _DBase4Memo(memo)

    def __iter__(self) -> Iterator[Row | RecordError | None]:
        header = self.table.header
        name = str(self._path)
        length, total = header.recordlen, header.numrecords
        nullflags = next((f for f in self._fields if f[0].type == "0"), None)
        self.deleted = 0
        with open(self._path, "rb") as f, self._memo() as memo:
            parser = _Parser(self.table, memo)
            decoders = self._decoders(parser)
            f.seek(header.headerlen)
            number = 0
            while number < total:
                block = f.read(min(CHUNK_RECORDS, total - number) * length)
                if not block:
                    raise FileFormatError(
                        name,
                        f"the file ends after {number} of the {total} records its header counts",
                        offset=header.headerlen + number * length,
                        record=number + 1,
                    )
                for start in range(0, len(block), length):
                    number += 1
                    rec = block[start : start + length]
                    offset = header.headerlen + (number - 1) * length
                    if len(rec) < length:
                        yield RecordError(
                            name, number, offset, None,
                            f"truncated record: {len(rec)} of {length} bytes", rec,
                        )  # fmt: skip
                        return
                    flag = rec[0]
                    if flag == 0x2A:  # '*'
                        self.deleted += 1
                        yield None
                        continue
                    if flag != 0x20:
                        yield RecordError(
                            name, number, offset, None,
                            f"record flag X'{flag:02X}' is neither blank (live) nor * (deleted)",
                            rec,
                        )  # fmt: skip
                        continue
                    yield self._record(rec, decoders, nullflags, name, number, offset)

    def _decoders(
        self, parser: _Parser
    ) -> list[tuple[Any, int, int, Callable, int | None, int | None]]:
        out = []
        for field, start, end, column, null, varlength in self._fields:
            if column is None:
                continue
            func = parser.function(field.type)
            if column.type == "bytes" and field.type in "CVM":
                func = _binary_text if field.type != "M" else _binary_memo(parser)
            out.append((field, start, end, func, null, varlength))
        return out

    def _record(
        self, rec: bytes, decoders: list, nullflags: Any, name: str, number: int, offset: int
    ) -> Row | RecordError:
        flags = rec[nullflags[1] : nullflags[2]] if nullflags else b""
        values = []
        for field, start, end, func, null, varlength in decoders:
            if null is not None and flags[null >> 3] >> (null & 7) & 1:
                values.append(None)
                continue
            data = rec[start:end]
            if varlength is not None and flags[varlength >> 3] >> (varlength & 7) & 1:
                data = data[: data[-1]]
            try:
                values.append(func(field, data))
            except (ValueError, IndexError, struct.error, OSError) as exc:
                return RecordError(name, number, offset + start, field.name, str(exc), rec)
        return tuple(values)


def _binary_text(field: Any, data: bytes) -> bytes:
    return data


def _binary_memo(parser: _Parser) -> Callable[[Any, bytes], bytes | None]:
    def memo(field: Any, data: bytes) -> bytes | None:
        return parser.get_memo(parser._parse_memo_index(data))

    return memo


__all__ = ["DbfReader"]
