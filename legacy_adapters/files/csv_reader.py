"""CSV exports: declared encoding, delimiter and quoting; header row or declared columns.

The file is read in 256 KiB chunks, cut at line ends and transcoded in Python
(`cp1252`, `latin-1`, `utf-8` with or without a byte order mark, or any Python
codec where a newline is the byte 0x0A), then parsed by the standard `csv`
module; for the loader (`storage_items`), chunks of plain text are checked
and split without it (`csv_plain`). Column types are declared (`types={"QTY": "integer", "AMT":
"decimal(9,2)"}`) or inferred from the first `sample` records (see
`csv_types`); an inferred type binds the whole file.

Record errors, each with file, record number, line, byte offset and field:
a row with another number of fields than the columns, a byte the encoding
cannot decode, a value not of its column's type. A header row that differs
from the declared columns is a `FileFormatError` (every record would be
misread). Blank lines inside the data are errors; blank lines at the very end
of the file hold no data and are ignored.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from legacy_adapters.files import csv_ahead, csv_plain, csv_types, csv_whole
from legacy_adapters.files.records import Column, FileFormatError, RecordError, Row, StorageRun

CHUNK_BYTES = 1 << 18
AHEAD = True  # check plain chunks ahead in a second process where there are two cores
BATCH_ROWS = 2000
BOM = b"\xef\xbb\xbf"
_SURROGATE = re.compile("[\udc80-\udcff]")
Quoting = Literal["minimal", "none"]


class CsvReader:
    def __init__(
        self,
        path: str | Path,
        *,
        encoding: str = "utf-8",
        delimiter: str = ",",
        quotechar: str = '"',
        quoting: Quoting = "minimal",
        escapechar: str | None = None,
        header: bool = True,
        columns: Sequence[str] | None = None,
        types: Mapping[str, str] | None = None,
        decimal_point: str = ".",
        sample: int = 1000,
    ) -> None:
        self._path = Path(path)
        self.encoding = "utf-8" if encoding.lower().replace("_", "-") == "utf-8-sig" else encoding
        self._bom = self.encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        if quoting not in ("minimal", "none"):
            raise ValueError("quoting must be 'minimal' or 'none'")
        self._dialect: dict[str, Any] = {
            "delimiter": delimiter,
            "quotechar": quotechar,
            "quoting": csv.QUOTE_MINIMAL if quoting == "minimal" else csv.QUOTE_NONE,
            "escapechar": escapechar,
            "doublequote": escapechar is None,
        }
        self.header = header
        self.decimal_point = decimal_point
        if not header and not columns:
            raise ValueError("a CSV file without a header row needs declared columns")
        names = self._read_header(columns) if header else list(columns or [])
        if len(set(names)) != len(names):
            raise FileFormatError(str(self._path), f"duplicate column names in {names}")
        unknown = set(types or {}) - set(names)
        if unknown:
            raise ValueError(f"types given for unknown columns: {', '.join(sorted(unknown))}")
        # An empty text field is the empty string, an empty typed field null.
        self._columns = tuple(
            replace(c, nullable=c.type != "text")
            for c in self._typed(names, dict(types or {}), sample)
        )
        self._converters = [csv_types.converter(c, decimal_point) for c in self._columns]
        self._column_converters = [
            None if conv is None else (csv_types.column_converter(c, decimal_point) or _each(conv))
            for c, conv in zip(self._columns, self._converters, strict=True)
        ]

    @property
    def path(self) -> Path:
        return self._path

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    # ------------------------------------------------------------------ setup

    def _rows(self, lines: _Lines) -> Iterator[list[str]]:
        return csv.reader(lines, **self._dialect)

    def _read_header(self, declared: Sequence[str] | None) -> list[str]:
        lines = _Lines(self._path, self.encoding, self._bom)
        try:
            rows = self._rows(lines)
            found = next(rows, None)
            self._header_lines = rows.line_num
        except csv.Error as exc:
            raise FileFormatError(str(self._path), f"cannot read the header row: {exc}") from None
        finally:
            lines.close()
        if found is None:
            raise FileFormatError(str(self._path), "the file is empty: no header row")
        if _SURROGATE.search("".join(found)):
            raise FileFormatError(
                str(self._path), f"the header row is not {self.encoding}", offset=0, record=0
            )
        names = [name.strip() for name in found]
        if declared is not None and list(declared) != names:
            missing = [n for n in declared if n not in names]
            extra = [n for n in names if n not in declared]
            detail = []
            if missing:
                detail.append(f"missing {', '.join(missing)}")
            if extra:
                detail.append(f"unexpected {', '.join(extra)}")
            if not detail:
                detail.append("same columns in another order")
            raise FileFormatError(
                str(self._path),
                f"the header row is not the declared one ({'; '.join(detail)}): "
                f"expected {list(declared)}, found {names}",
                offset=0,
                record=0,
            )
        if any(not n for n in names):
            raise FileFormatError(str(self._path), "the header row has an empty column name")
        return names

    def _typed(self, names: list[str], types: dict[str, str], sample: int) -> tuple[Column, ...]:
        declared: dict[str, Column] = {}
        open_scale: set[str] = set()
        for name, declaration in types.items():
            column, open_ = csv_types.declared_column(name, declaration)
            declared[name] = column
            if open_:
                open_scale.add(name)
        to_infer = [i for i, n in enumerate(names) if n not in declared or n in open_scale]
        samples: list[list[str]] = [[] for _ in names]
        if to_infer and sample > 0:
            lines = _Lines(self._path, self.encoding, self._bom)
            rows = self._rows(lines)
            try:
                if self.header:
                    next(rows, None)
                for count, row in enumerate(rows):
                    if count >= sample:
                        break
                    if len(row) == len(names):
                        for i in to_infer:
                            samples[i].append(row[i])
            except csv.Error:
                pass  # the record is reported when the file is read
            finally:
                lines.close()
        out = []
        for i, name in enumerate(names):
            inferred = csv_types.infer_column(name, samples[i], self.decimal_point)
            if name not in declared:
                out.append(inferred)
            elif name in open_scale:
                column = declared[name]
                scale = inferred.scale if inferred.type == "decimal" else 0
                out.append(Column(name, "decimal", precision=column.precision, scale=scale))
            else:
                out.append(declared[name])
        return tuple(out)

    # ------------------------------------------------------------------ reading

    def _compile(self) -> Callable[[list[str]], Row]:
        namespace: dict[str, Any] = {}
        items = []
        for i, conv in enumerate(self._converters):
            if conv is None:
                items.append(f"row[{i}]")
            else:
                namespace[f"c{i}"] = conv
                items.append(f"c{i}(row[{i}])")
        source = f"def convert(row):\n    return ({', '.join(items)},)\n"
        exec(compile(source, "<csv row>", "exec"), namespace)
        return namespace["convert"]

    def __iter__(self) -> Iterator[Row | list[Row] | RecordError]:
        """Records in order; runs of good records come as lists (one item per record).

        Rows are read in runs of `BATCH_ROWS`; a run whose rows all have the right
        number of fields and no undecodable byte is converted column by column.
        Any other run is gone through row by row, and each error is located by
        a second, forward-only pass over the file (`locate`).
        """
        lines = _Lines(self._path, self.encoding, self._bom)
        try:
            rows = self._rows(lines)
            if self.header:
                next(rows, None)
            yield from self._records(lines, rows, 0, 0, rows.line_num, [])
        finally:
            lines.close()

    def storage_items(
        self, required: Collection[str] = ()
    ) -> Iterator[Row | list[Row] | RecordError | StorageRun]:
        """The records as for loading: plain chunks of the file come as `StorageRun`s.

        Chunks are checked by `csv_plain`; one that is not plain is read the
        general way: by itself when it holds no quote character (each of its
        lines is then one record), else together with the rest of the file (a
        quoted field may span lines).
        """
        plain = csv_plain.PlainText.of(self._columns, self._dialect, self.decimal_point, required)
        skip = self._header_lines if self.header else 0
        if plain is None:
            yield from self
            return
        lines = _Lines(self._path, self.encoding, self._bom)
        record = line = 0
        blank: list[int] = []
        spanning = (self._dialect["quotechar"] or "") + (self._dialect["escapechar"] or "")
        config = {"plain": plain, "skip": skip, "encoding": self.encoding, "bom": self._bom}
        ahead = csv_ahead.Ahead.start(self._path, config) if AHEAD else None
        try:
            chunks = lines.chunks()
            for chunk_number, (text, dirty) in enumerate(chunks):
                if skip:
                    rest = _drop_lines(text, skip)
                    if rest is None:  # a header of many lines, or with a lone CR
                        yield from self
                        return
                    text, line, skip = rest, skip, 0
                if not text:
                    continue
                verdict = csv_ahead.UNKNOWN
                if ahead is not None and not dirty:
                    verdict = ahead.verdict(chunk_number, lines.raw)
                if dirty or verdict == csv_ahead.NOT_PLAIN:
                    runs = None
                elif verdict is csv_ahead.UNKNOWN:
                    runs = plain.runs(text, BATCH_ROWS)
                else:  # checked by the helper: the same check, on the same bytes
                    runs = plain.split(text, BATCH_ROWS, verdict == csv_ahead.EMPTY)
                if runs is not None:
                    for number in blank:
                        yield self._located(number, None, "blank line")
                    blank.clear()
                    yield from runs
                else:
                    # Without quotes, escapes or lone CRs, each line of the chunk is a record.
                    lone_cr = text.count("\r") != text.count("\r\n")
                    alone = not lone_cr and not any(c in text for c in spanning)
                    source = [(text, dirty)] if alone else itertools.chain([(text, dirty)], chunks)
                    rows = csv.reader(_lines_of(source), **self._dialect)
                    blank = yield from self._records(lines, rows, record, line, line, blank)
                    if not alone:
                        return
                count = text.count("\n") + (not text.endswith("\n"))
                record += count
                line += count
        finally:
            if ahead is not None:
                ahead.close()
            lines.close()

    def plain_file(self, required: Collection[str] = ()) -> csv_whole.PlainFile | None:
        """The file for SQLite to read itself, if every chunk proves plain (`csv_whole`)."""
        plain = csv_plain.PlainText.of(self._columns, self._dialect, self.decimal_point, required)
        header_lines = self._header_lines if self.header else 0
        delimiter = self._dialect["delimiter"]
        if plain is None:
            return None
        if not csv_whole.usable(self._path, self.header, header_lines, delimiter, self._bom):
            return None
        return csv_whole.PlainFile(
            path=self._path,
            columns=self._columns,
            plain=plain,
            delimiter=delimiter,
            header=self.header,
            encoding=self.encoding,
            utf8=self.encoding.lower().replace("_", "-") in ("utf-8", "utf8"),
            chunks=lambda: _Lines(self._path, self.encoding, self._bom),
            drop_lines=_drop_lines,
        )

    def _records(
        self,
        lines: _Lines,
        rows: Any,
        record: int,
        line_base: int,
        last_line: int,
        blank: list[int],
    ) -> Generator[Row | list[Row] | RecordError, None, list[int]]:
        """The records `rows` (a csv reader) reads, numbered on from `record`.

        Its line numbers count from `line_base`; `last_line` is the line where
        the previous record ends; `blank` holds blank lines (by record number)
        not yet known to be trailing, and so does the list returned.
        """
        convert = self._compile()
        width = len(self._columns)
        guarded = _guarded(rows, width)
        while run := list(islice(guarded, BATCH_ROWS)):
            start = record + 1
            record += len(run)
            first_line, last_line = last_line + 1, line_base + rows.line_num
            if not blank and lines.dirty_last < first_line and set(map(len, run)) == {width}:
                yield from self._convert_run(run, start, convert)
                continue
            good: list[list[str]] = []
            for number, row in enumerate(run, start):
                problem = None
                if isinstance(row, _Failure):
                    problem = (None, row.message)
                elif not row:
                    blank.append(number)
                    continue
                elif len(row) != width:
                    problem = self._width_problem(row)
                elif lines.dirty_last >= first_line:
                    problem = self._undecodable(row)
                if problem is None and not blank:
                    if not good:
                        good_start = number
                    good.append(row)
                    continue
                if good:
                    yield from self._convert_run(good, good_start, convert)
                    good = []
                for number_ in blank:
                    yield self._located(number_, None, "blank line")
                blank.clear()
                if problem is None:
                    good_start, good = number, [row]
                else:
                    yield self._located(number, *problem)
            if good:
                yield from self._convert_run(good, good_start, convert)
        return blank

    def _convert_run(
        self, run: list[list[str]], start: int, convert: Callable[[list[str]], Row]
    ) -> Iterator[Row | list[Row] | RecordError]:
        """Convert a run of rows column by column; row by row when a column is not plain."""
        converted = []
        for column, values in zip(self._column_converters, zip(*run, strict=True), strict=True):
            if column is None:
                converted.append(values)
                continue
            result = column(values)
            if result is None:
                break
            converted.append(result)
        else:
            yield list(zip(*converted, strict=True))
            return
        for number, row in enumerate(run, start):
            try:
                yield convert(row)
            except ValueError:
                yield self._type_error(number, row)

    def locate(self, record: int) -> tuple[int, bytes, int | None]:
        """Where record `record` is: found by reading forward (again) to it."""
        scan = self._scan
        if scan is None or scan.record >= record:
            if scan is not None:
                scan.close()
            scan = self._scan = _Scan(self)
        first, last = scan.advance(record)
        start, raw = scan.offsets.span(first, last)
        return start, raw, first

    _scan: _Scan | None = None

    def _undecodable(self, row: list[str]) -> tuple[str, str] | None:
        for column, value in zip(self._columns, row, strict=True):
            match = _SURROGATE.search(value)
            if match:
                byte = ord(match.group()) - 0xDC00
                return column.name, f"byte 0x{byte:02X} cannot be decoded as {self.encoding}"
        return None

    def _width_problem(self, row: list[str]) -> tuple[str | None, str]:
        width = len(self._columns)
        if len(row) < width:
            missing = [c.name for c in self._columns[len(row) :]]
            message = f"{len(row)} fields where {width} are expected: missing {', '.join(missing)}"
            return missing[0], message
        return None, f"{len(row)} fields where {width} are expected"

    def _type_error(self, record: int, row: list[str]) -> RecordError:
        for column, conv, value in zip(self._columns, self._converters, row, strict=True):
            if conv is None:
                continue
            try:
                conv(value)
            except ValueError as exc:
                return self._located(record, column.name, str(exc))
        return self._located(record, None, "record cannot be converted")

    def _located(self, record: int, field: str | None, message: str) -> RecordError:
        offset, raw, line = self.locate(record)
        return RecordError(str(self._path), record, offset, field, message, raw, line=line)


class _Failure(list):
    """Stands for a record the csv module refused; never as long as a good row."""

    def __init__(self, message: str, width: int) -> None:
        super().__init__([""] * (width + 1))
        self.message = message


def _guarded(rows: Iterator[list[str]], width: int) -> Iterator[list[str]]:
    """The rows, with a `_Failure` in place of a record the csv module cannot parse."""
    while True:
        try:
            yield from rows
            return
        except csv.Error as exc:
            yield _Failure(str(exc), width)


def _each(conv: Callable[[str], Any]) -> Callable[[Sequence[str]], list | None]:
    def convert_all(values: Sequence[str]) -> list | None:
        try:
            return [conv(v) for v in values]
        except ValueError:
            return None

    return convert_all


class _Scan:
    """A second pass over the file that tells which lines each record spans."""

    def __init__(self, reader: CsvReader) -> None:
        self.lines = _Lines(reader.path, reader.encoding, reader._bom)
        self.offsets = _LineOffsets(reader.path)
        self.rows = reader._rows(self.lines)
        self.record, self.first, self.last = 0, 0, 0
        if reader.header:
            next(self.rows, None)
            self.last = self.rows.line_num

    def advance(self, record: int) -> tuple[int, int]:
        while self.record < record:
            try:
                next(self.rows)
            except StopIteration:
                break
            except csv.Error:
                pass
            self.record += 1
            self.first, self.last = self.last + 1, self.rows.line_num
        return self.first, self.last

    def close(self) -> None:
        self.lines.close()
        self.offsets.close()


class _Lines:
    """The file's lines as text, decoded chunk by chunk; notes the last line of a bad chunk."""

    def __init__(self, path: Path, encoding: str, bom: bool) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._encoding = encoding
        self._bom = bom
        self.dirty_last = 0  # undecodable bytes may be on lines up to this one
        self._lines = 0
        self.raw = b""

    def close(self) -> None:
        self._file.close()

    def __iter__(self) -> Iterator[str]:
        return _lines_of(self.chunks())

    def chunks(self) -> Iterator[tuple[str, bool]]:
        """The file as text in chunks of whole lines, each with whether it had undecodable bytes."""
        pending = b""
        first = True
        while True:
            data = self._file.read(CHUNK_BYTES)
            buf = pending + data
            if data:
                cut = buf.rfind(b"\n") + 1
                if cut == 0:
                    pending = buf
                    continue
                chunk, pending = buf[:cut], buf[cut:]
            else:
                chunk, pending = buf, b""
            if first:
                first = False
                if self._bom and chunk.startswith(BOM):
                    chunk = chunk[len(BOM) :]
            self.raw = chunk  # the bytes of the chunk about to be yielded
            dirty = False
            try:
                text = chunk.decode(self._encoding)
            except UnicodeDecodeError:
                text = chunk.decode(self._encoding, "surrogateescape")
                self.dirty_last = self._lines + text.count("\n") + 1
                dirty = True
            self._lines += text.count("\n")
            yield text, dirty
            if not data:
                return


def _lines_of(chunks: Iterable[tuple[str, bool]]) -> Iterator[str]:
    for text, _ in chunks:
        yield from io.StringIO(text, newline="")


def _drop_lines(text: str, count: int) -> str | None:
    """`text` without its first `count` lines (ended by LF or CRLF), or None."""
    pos = 0
    for _ in range(count):
        end = text.find("\n", pos)
        if end < 0 or "\r" in text[pos : end - 1]:
            return None
        pos = end + 1
    return text[pos:]


class _LineOffsets:
    """Byte offsets and bytes of physical lines, found by scanning forward on demand."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: io.BufferedReader | None = None
        self._line = 1  # the line that starts at self._offset
        self._offset = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def _seek_line(self, line: int) -> int:
        if self._file is None or line < self._line:
            if self._file is not None:
                self._file.close()
            self._file = open(self._path, "rb")  # noqa: SIM115 - closed by close()
            self._line, self._offset = 1, 0
        f = self._file
        f.seek(self._offset)
        while self._line < line:
            block = f.read(CHUNK_BYTES)
            if not block:
                break
            needed = line - self._line
            count = block.count(b"\n")
            if count < needed:
                self._line += count
                self._offset += len(block)
                continue
            pos = -1
            for _ in range(needed):
                pos = block.index(b"\n", pos + 1)
            self._line = line
            self._offset += pos + 1
            break
        return self._offset

    def span(self, first: int, last: int) -> tuple[int, bytes]:
        """(byte offset of line `first`, the bytes of lines first..last without the last end).

        Errors come in file order, so the scan only ever moves forward.
        """
        start = self._seek_line(first)
        end = self._seek_line(last + 1)
        assert self._file is not None
        self._file.seek(start)
        raw = self._file.read(max(0, end - start))
        return start, raw.rstrip(b"\r\n")


__all__ = ["CsvReader"]
