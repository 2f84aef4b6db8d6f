"""Shared types of the file readers: columns, record errors, the reader contract.

A reader streams one export file. It declares its columns once (`columns`) and
then yields, record by record and in file order, either a tuple of Python
values (one per column) or a `RecordError` for a record it could not decode.
It never holds the file as Python objects: memory stays bounded by one read
buffer.

Values are storage decodings only: `str` for text (fixed-width `char` columns
keep their trailing pad spaces, exactly like a database `CHAR(n)`), `int` for
whole numbers, `decimal.Decimal` for numbers with decimals, `datetime.date` and
`datetime.datetime`, `bool`, `float`, `bytes`; `None` for an absent value.
What a value means (a `YYYYMMDD` integer that is a date, a code that is a
status) is the mapping's business, as for database columns.

Errors:

    FileFormatError   the file as a whole cannot be read (bad header, lost
                      record framing, a header row that is not the declared one)
    RecordError       one record cannot be decoded; yielded, not raised, so a
                      loader can quarantine it and go on
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

ColumnType = Literal[
    "text", "char", "integer", "decimal", "float", "date", "datetime", "boolean", "bytes"
]


@dataclass(frozen=True)
class Column:
    """One column of an export, as the reader decodes it.

    `length` is the width of a fixed-width `char` column; `precision` and
    `scale` describe a `decimal` (digits in all and after the point) or the
    digits of an `integer` (`None`: unbounded). `nullable` is False when the
    format cannot hold an absent value there (a fixed-width field, a CSV text
    field): the loaded column is then NOT NULL, so a sort on it is served in
    index order.
    """

    name: str
    type: ColumnType
    length: int | None = None
    precision: int | None = None
    scale: int = 0
    nullable: bool = True


@dataclass(frozen=True)
class RecordError:
    """A record that could not be decoded, and where it is.

    `record` counts the file's data records from 1 (a CSV header row is not a
    record); `line` is the physical line where it starts, for text formats;
    `offset` is the byte offset in the file of the bad field (of the record
    when no single field is to blame). `raw` holds the record's bytes.
    """

    file: str
    record: int
    offset: int
    field: str | None
    message: str
    raw: bytes = b""
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}: record {self.record}"
        if self.line is not None:
            where += f" (line {self.line})"
        where += f", byte offset {self.offset}"
        if self.field is not None:
            where += f", field {self.field}"
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "record": self.record,
            "line": self.line,
            "offset": self.offset,
            "field": self.field,
            "message": self.message,
        }


class FileFormatError(Exception):
    """The file cannot be read at all, or its framing was lost part-way."""

    def __init__(
        self, file: str, message: str, *, offset: int | None = None, record: int | None = None
    ) -> None:
        where = []
        if record is not None:
            where.append(f"record {record}")
        if offset is not None:
            where.append(f"byte offset {offset}")
        self.detail = f"{', '.join(where)}: {message}" if where else message
        super().__init__(f"{file}: {self.detail}")
        self.file = file
        self.message = message
        self.offset = offset
        self.record = record


Row = tuple[Any, ...]


class StorageRun:
    """Consecutive good records already in the form the loader binds (`Reader.storage_items`).

    `values` holds the records' values one after the other, `width` to a
    record. Each is, per column, a value that the loader's insert stores
    exactly as it stores the adapted decoded value (`storage.row_adapter`):
    for instance the text `12.50` for `Decimal("12.50")`, which the `NUMERIC`
    column's affinity turns into the same number, and `""` for an absent value
    of a typed column (the insert binds it as NULL). Key columns have a value.
    `empty` False says that no value is `""` (the insert need not look).
    """

    __slots__ = ("empty", "values", "width")

    def __init__(self, values: list[Any], width: int, empty: bool = True) -> None:
        self.values, self.width, self.empty = values, width, empty

    @classmethod
    def of_rows(cls, rows: Iterable[Sequence[Any]], width: int) -> StorageRun:
        return cls(list(chain.from_iterable(rows)), width)

    def __len__(self) -> int:
        return len(self.values) // self.width

    def rows(self) -> list[tuple[Any, ...]]:
        return list(zip(*[iter(self.values)] * self.width, strict=False))


@runtime_checkable
class RecordReader(Protocol):
    """What the loader needs from a reader.

    Iterating yields the records of the file in order: a tuple of values, a
    list of such tuples (consecutive good records, one per record), a
    `RecordError`, or `None` for a record the format itself marks as not data
    (a deleted DBF record); so counting records over the items gives every
    record its number. `locate(n)` gives
    record n's byte offset, raw bytes and line (text formats; else None), for
    errors found after decoding (a duplicate key).
    """

    @property
    def path(self) -> Path: ...

    @property
    def columns(self) -> tuple[Column, ...]: ...

    def __iter__(self) -> Iterator[Row | list[Row] | RecordError | None]: ...

    def locate(self, record: int) -> tuple[int, bytes, int | None]: ...


def storage_items(
    reader: RecordReader, required: Sequence[str] = ()
) -> Iterator[Row | list[Row] | RecordError | None]:
    """The reader's items for loading: its `storage_items(required)` when it has one.

    A reader may offer `storage_items(required)`: the same records, numbered
    alike, except that some runs of good records come as a `StorageRun`
    (columns named in `required` then have a value in each of its rows).
    """
    method = getattr(reader, "storage_items", None)
    return iter(reader) if method is None else method(required)


def each_record(reader: RecordReader) -> Iterator[Row | RecordError | None]:
    """The reader's items with runs of records taken apart: exactly one item per record."""
    for item in reader:
        if type(item) is list:
            yield from item
        else:
            yield item


__all__ = [
    "Column",
    "ColumnType",
    "FileFormatError",
    "RecordError",
    "RecordReader",
    "Row",
    "StorageRun",
    "each_record",
    "storage_items",
]
