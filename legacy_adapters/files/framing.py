"""Record framing of fixed-width exports: where each record's bytes are.

- `F`/`FB`: records of the layout's length back to back, optionally each followed
  by a line end (`\\n`, `\\r\\n`, or EBCDIC NL X'15'); `line_end=None` detects
  it from the first records. Blocking (FB) does not show in a file transferred
  from the mainframe, so F and FB read the same way. A last record shorter than
  the layout is handed on as it is (the reader reports it as truncated).
- `V`: each record starts with a 4-byte record descriptor word (RDW): a 2-byte
  big-endian length that counts the RDW itself, then two zero bytes.
- `VB`: blocks, each starting with a 4-byte block descriptor word (BDW: 2-byte
  length counting the BDW, two zero bytes; or the extended form with the high
  bit set and a 31-bit length), holding RDW records.

Framing that cannot be followed (an RDW whose length is impossible, a block
that ends inside a record, a missing line end) is a `FileFormatError`: the
records after it cannot be found.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from legacy_adapters.files.records import FileFormatError

RecordFormat = Literal["F", "FB", "V", "VB"]
LINE_ENDS = (b"\r\n", b"\n", b"\x15", b"\x25")
CHUNK_BYTES = 1 << 18


def check_format(recfm: str) -> RecordFormat:
    if recfm not in ("F", "FB", "V", "VB"):
        raise ValueError(f"recfm must be F, FB, V or VB, not {recfm!r}")
    return recfm  # type: ignore[return-value]


def line_end_bytes(line_end: bytes | str | None) -> bytes | None:
    if line_end is None or isinstance(line_end, bytes):
        return line_end
    return line_end.encode("latin-1")


@dataclass(frozen=True)
class Chunk:
    """Consecutive records; `first` is the number (from 1) of `records[0]`."""

    first: int
    records: list[bytes]
    start: int  # byte offset of records[0]
    stride: int = 0  # fixed records: bytes from one record to the next
    offsets: tuple[int, ...] = ()  # variable records: each record's data offset

    def offset(self, index: int) -> int:
        return self.offsets[index] if self.offsets else self.start + index * self.stride


def detect_line_end(head: bytes, length: int) -> bytes:
    """The line end that follows every record in `head`, or b'' when there is none."""
    for candidate in LINE_ENDS:
        stride = length + len(candidate)
        boundaries = range(length, len(head) - len(candidate) + 1, stride)
        if boundaries and all(
            head[i : i + len(candidate)] == candidate for i in list(boundaries)[:64]
        ):
            return candidate
    return b""


def fixed_chunks(path: Path, length: int, line_end: bytes | None) -> Iterator[Chunk]:
    if length <= 0:
        raise ValueError("record length must be positive")
    name = str(path)
    with open(path, "rb") as f:
        if line_end is None:
            line_end = detect_line_end(f.read(CHUNK_BYTES), length)
            f.seek(0)
        stride = length + len(line_end)
        want = max(1, CHUNK_BYTES // stride) * stride
        number, start = 1, 0
        while True:
            buf = f.read(want)
            eof = len(buf) < want
            count = len(buf) // stride
            if line_end and count:
                _check_line_ends(buf, count, length, line_end, name, number, start)
            records = [buf[i : i + length] for i in range(0, count * stride, stride)]
            rest = buf[count * stride :]
            if rest and len(rest) < length:
                records.append(rest)  # truncated: the reader reports it
            elif rest and line_end.startswith(rest[length:]):
                records.append(rest[:length])  # the last record, without its line end
            elif rest:
                raise FileFormatError(
                    name,
                    f"no line end after the last {length}-byte record",
                    offset=start + count * stride + length,
                    record=number + count,
                )
            if records:
                yield Chunk(number, records, start, stride)
            if eof:
                return
            number += count
            start += count * stride


def _check_line_ends(
    buf: bytes, count: int, length: int, line_end: bytes, name: str, number: int, start: int
) -> None:
    stride = length + len(line_end)
    for k, byte in enumerate(line_end):
        column = buf[length + k : count * stride : stride]
        if column.count(byte) != len(column):
            bad = next(i for i, b in enumerate(column) if b != byte)
            raise FileFormatError(
                name,
                f"no line end after a {length}-byte record: the record is longer or shorter "
                "than the layout, or the line ends are not the declared ones",
                offset=start + bad * stride + length,
                record=number + bad,
            )


def variable_chunks(path: Path, *, blocked: bool) -> Iterator[Chunk]:
    name = str(path)
    number, pos = 1, 0
    with open(path, "rb") as f:
        pending = b""
        while True:
            data = f.read(CHUNK_BYTES)
            buf = pending + data
            if not buf:
                return
            records: list[bytes] = []
            offsets: list[int] = []
            base = pos - len(pending)
            used = (
                _blocks(buf, base, records, offsets, name, number)
                if blocked
                else _rdw_records(buf, 0, len(buf), base, records, offsets, name, number)
            )
            if not data and used < len(buf):
                what = "block" if blocked else "record"
                raise FileFormatError(
                    name,
                    f"the file ends inside a {what} ({len(buf) - used} bytes left over)",
                    offset=base + used,
                    record=number + len(records),
                )
            if records:
                yield Chunk(number, records, offsets[0], offsets=tuple(offsets))
                number += len(records)
            pending = buf[used:]
            pos += len(data)
            if not data:
                return


def _rdw_records(
    buf: bytes,
    p: int,
    end: int,
    base: int,
    records: list[bytes],
    offsets: list[int],
    name: str,
    number: int,
) -> int:
    """Parse RDW records in buf[p:end]; returns where the first incomplete record starts."""
    while p + 4 <= end:
        size = (buf[p] << 8) | buf[p + 1]
        if size < 4 or buf[p + 2] or buf[p + 3]:
            raise FileFormatError(
                name,
                f"bad record descriptor word X'{buf[p : p + 4].hex().upper()}' "
                "(length below 4, or spanned/non-zero flag bytes)",
                offset=base + p,
                record=number + len(records),
            )
        if p + size > end:
            break
        records.append(buf[p + 4 : p + size])
        offsets.append(base + p + 4)
        p += size
    return p


def _blocks(
    buf: bytes, base: int, records: list[bytes], offsets: list[int], name: str, number: int
) -> int:
    p = 0
    while p + 4 <= len(buf):
        if buf[p] & 0x80:  # extended BDW: 31-bit length
            size = int.from_bytes(buf[p : p + 4], "big") & 0x7FFFFFFF
        else:
            size = (buf[p] << 8) | buf[p + 1]
            if buf[p + 2] or buf[p + 3]:
                size = 0
        if size < 8:
            raise FileFormatError(
                name,
                f"bad block descriptor word X'{buf[p : p + 4].hex().upper()}'",
                offset=base + p,
                record=number + len(records),
            )
        if p + size > len(buf):
            break
        end = _rdw_records(buf, p + 4, p + size, base, records, offsets, name, number)
        if end != p + size:
            raise FileFormatError(
                name,
                f"a block of {size} bytes ends inside a record",
                offset=base + end,
                record=number + len(records),
            )
        p += size
    return p


__all__ = ["Chunk", "RecordFormat", "check_format", "detect_line_end", "fixed_chunks"]
