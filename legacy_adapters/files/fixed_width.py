"""Fixed-width record decoding: bytes -> Python values, per `Layout`, and the reader.

`RecordDecoder` compiles one function per layout that slices every field at
precomputed offsets (text fields from the record decoded once, when the code
page maps all 256 bytes) and returns a tuple. Only when that fast function
fails does a slower pass go field by field to name the field and the reason.

Values: `char` fields are `str` exactly as stored (trailing spaces kept, like a
database `CHAR(n)`); numbers are `int`, or `Decimal` when the field has implied
decimals. A field that is all spaces or all low-values (X'00') is an error
unless `empty_numeric="null"` (then `None`).

Code pages: any Python codec (`cp037`, `cp500`, `cp273`, `latin-1`, `ascii`,
...) and `cp1047` (from the `ebcdic` package). Zoned signs are read from the
decoded characters with the standard overpunch table (`{`, `A`-`I` positive,
`}`, `J`-`R` negative), which is what EBCDIC zones C and D decode to in these
code pages and what ASCII exports write.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Collection, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import ebcdic  # noqa: F401  (registers cp1047 and other EBCDIC code pages with codecs)

from legacy_adapters.files import fixed_plain, framing
from legacy_adapters.files.layout import FieldSpec, Layout
from legacy_adapters.files.records import Column, RecordError, Row, StorageRun
from legacy_adapters.files.storage import EXACT_DIGITS

EmptyNumeric = Literal["error", "null"]

_POSITIVE = {"{": "0", **{chr(ord("A") + i): str(i + 1) for i in range(9)}}
_NEGATIVE = {"}": "0", **{chr(ord("J") + i): str(i + 1) for i in range(9)}}
_UNSIGNED = {str(i): str(i) for i in range(10)}
# overpunched character -> (negative?, digit)
_OVERPUNCH = {c: (False, d) for c, d in {**_UNSIGNED, **_POSITIVE}.items()} | {
    c: (True, d) for c, d in _NEGATIVE.items()
}


class FieldDecodeError(ValueError):
    """A field whose bytes are not a value of its type."""


def _number(negative: bool, digits: str, scale: int) -> int | Decimal:
    if scale:
        sign = "-" if negative else ""
        return Decimal(f"{sign}{digits[:-scale] or '0'}.{digits[-scale:]}")
    value = int(digits)
    return -value if negative else value


def _text_number(negative: bool, digits: str, scale: int) -> int | str:
    """As `_number`, but a value with decimals as its text (`storage` keeps it exactly)."""
    if scale:
        sign = "-" if negative else ""
        return f"{sign}{digits[:-scale] or '0'}.{digits[-scale:]}"
    value = int(digits)
    return -value if negative else value


def _zoned(spec: FieldSpec, number: Callable = _number) -> Callable[[str], Any]:
    scale = spec.scale
    position = spec.sign if spec.signed else "unsigned"

    def plain(digits: str, negative: bool = False) -> int | Decimal:
        if not (digits.isdigit() and digits.isascii()):
            raise FieldDecodeError(f"not a zoned decimal number: {digits!r}")
        return number(negative, digits, scale)

    if position == "unsigned":
        return plain

    if position == "trailing":

        def trailing(text: str) -> int | Decimal:
            sign = _OVERPUNCH.get(text[-1])
            if sign is None:
                raise FieldDecodeError(f"bad sign (overpunch) in {text!r}")
            return plain(text[:-1] + sign[1], sign[0])

        return trailing
    if position == "leading":

        def leading(text: str) -> int | Decimal:
            sign = _OVERPUNCH.get(text[0])
            if sign is None:
                raise FieldDecodeError(f"bad sign (overpunch) in {text!r}")
            return plain(sign[1] + text[1:], sign[0])

        return leading

    def separate(text: str) -> int | Decimal:
        sign, digits = (
            (text[0], text[1:]) if position == "leading_separate" else (text[-1], text[:-1])
        )
        if sign not in "+-" or not sign:
            raise FieldDecodeError(f"bad separate sign {sign!r} in {text!r}")
        return plain(digits, sign == "-")

    return separate


def _packed(spec: FieldSpec, number: Callable = _number) -> Callable[[bytes], Any]:
    scale, signed, even = spec.scale, spec.signed, spec.digits % 2 == 0

    def packed(data: bytes) -> int | Decimal:
        nibbles = data.hex()
        digits, sign = nibbles[:-1], nibbles[-1]
        if not digits.isdigit():
            bad = next(i for i, c in enumerate(digits) if not c.isdigit())
            raise FieldDecodeError(
                f"bad packed decimal digit nibble 0x{digits[bad].upper()} in byte {bad // 2} "
                f"(X'{nibbles.upper()}')"
            )
        if sign in "cfae":
            negative = False
        elif sign in "bd":
            if not signed:
                raise FieldDecodeError(f"negative sign in an unsigned field (X'{nibbles.upper()}')")
            negative = True
        else:
            raise FieldDecodeError(
                f"bad packed decimal sign nibble 0x{sign} (X'{nibbles.upper()}')"
            )
        if even and digits[0] != "0":
            raise FieldDecodeError(f"value has more digits than the PICTURE (X'{nibbles.upper()}')")
        return number(negative, digits, scale)

    return packed


def _binary(spec: FieldSpec, number: Callable = _number) -> Callable[[bytes], Any]:
    scale, signed = spec.scale, spec.signed
    limit = None if spec.native else 10**spec.digits

    def binary(data: bytes) -> int | Decimal:
        value = int.from_bytes(data, "big", signed=signed)
        if limit is not None and not -limit < value < limit:
            raise FieldDecodeError(
                f"binary value {value} has more than the PICTURE's {spec.digits} digits"
            )
        if scale:
            return number(value < 0, str(abs(value)).rjust(scale + 1, "0"), scale)
        return value

    return binary


def _full_single_byte(encoding: str) -> bool:
    """True when every byte decodes to exactly one character (EBCDIC pages, latin-1)."""
    try:
        return len(bytes(range(256)).decode(encoding)) == 256
    except UnicodeDecodeError:
        return False


class RecordDecoder:
    """Decodes records of one layout; built once per layout and code page."""

    def __init__(
        self,
        layout: Layout,
        encoding: str = "cp037",
        *,
        empty_numeric: EmptyNumeric = "error",
        text_decimals: bool = False,
    ) -> None:
        """`text_decimals`: numbers with decimals come as their text (`12.50`), not `Decimal`s.

        That is the value the loader binds (`records.StorageRun`); the layout's
        decimal fields must then have at most `storage.EXACT_DIGITS` digits.
        """
        codecs.lookup(encoding)  # LookupError for an unknown code page
        if empty_numeric not in ("error", "null"):
            raise ValueError("empty_numeric must be 'error' or 'null'")
        self.layout = layout
        self.encoding = encoding
        # Every field holds a value; only empty numbers read as null, and only if asked.
        self.columns: tuple[Column, ...] = tuple(
            replace(c, nullable=empty_numeric == "null" and c.type != "char")
            for c in layout.columns()
        )
        self._empty_null = empty_numeric == "null"
        self._space = " ".encode(encoding)
        self._whole = _full_single_byte(encoding)
        self._number = _text_number if text_decimals else _number
        self._parts = [self._part(spec) for spec in layout.fields]
        self.decode: Callable[[bytes], Row] = self._compile()

    def _part(self, spec: FieldSpec) -> tuple[str, Callable[[Any], Any] | None]:
        """(how the field's input is sliced: 'text' or 'bytes', function or None)."""
        if spec.kind == "char":
            return "text", None
        if spec.kind == "zoned":
            return "text", _zoned(spec, self._number)
        make = _packed if spec.kind == "packed" else _binary
        return "bytes", make(spec, self._number)

    def _compile(self) -> Callable[[bytes], Row]:
        namespace: dict[str, Any] = {}
        items = []
        for i, (spec, (source, func)) in enumerate(
            zip(self.layout.fields, self._parts, strict=True)
        ):
            a, b = spec.offset, spec.end
            if source == "bytes":
                value = f"rec[{a}:{b}]"
            elif self._whole:
                value = f"text[{a}:{b}]"
            else:
                value = f"rec[{a}:{b}].decode(ENCODING)"
            if func is not None:
                namespace[f"f{i}"] = func
                value = f"f{i}({value})"
            items.append(value)
        body = "def decode(rec):\n"
        if self._whole:
            body += "    text = rec.decode(ENCODING)\n"
        body += f"    return ({', '.join(items)},)\n"
        namespace["ENCODING"] = self.encoding
        exec(compile(body, f"<decoder {self.encoding}>", "exec"), namespace)
        fast = namespace["decode"]
        if not self._empty_null:
            return fast
        slow = self.decode_fields

        def decode(rec: bytes) -> Row:
            try:
                return fast(rec)
            except (ValueError, IndexError):
                return slow(rec)

        return decode

    def decode_fields(self, rec: bytes) -> Row:
        """Field by field; raises `FieldDecodeError` naming the first bad field."""
        values = []
        for spec, (source, func) in zip(self.layout.fields, self._parts, strict=True):
            raw = rec[spec.offset : spec.end]
            try:
                values.append(self._field(spec, raw, source, func))
            except FieldDecodeError as exc:
                exc.spec = spec  # type: ignore[attr-defined]
                raise
        return tuple(values)

    def _field(self, spec: FieldSpec, raw: bytes, source: str, func: Callable | None) -> Any:
        if len(raw) < spec.length:
            raise FieldDecodeError(
                f"record ends inside the field ({len(raw)} of {spec.length} bytes)"
            )
        if source == "text":
            try:
                text = raw.decode(self.encoding)
            except UnicodeDecodeError as exc:
                raise FieldDecodeError(
                    f"byte 0x{raw[exc.start]:02X} at position {exc.start} is not {self.encoding}"
                ) from None
            if func is None:
                return text
            value: Any = text
        else:
            assert func is not None
            value = raw
        try:
            return func(value)
        except FieldDecodeError:
            if self._empty_null and (raw == self._space * len(raw) or not any(raw)):
                return None
            if not any(raw) or raw == self._space * len(raw):
                raise FieldDecodeError(
                    "numeric field is empty (all spaces or low-values); "
                    "empty_numeric='null' reads it as null"
                ) from None
            raise

    def error(self, rec: bytes, *, file: str, record: int, offset: int) -> RecordError:
        """The `RecordError` for a record the fast path refused."""
        if len(rec) < self.layout.length:
            first = next(f for f in self.layout.fields if f.end > len(rec))
            return RecordError(
                file,
                record,
                offset + first.offset if first.offset < len(rec) else offset + len(rec),
                first.name,
                f"truncated record: {len(rec)} of {self.layout.length} bytes",
                rec,
            )
        try:
            self.decode_fields(rec)
        except FieldDecodeError as exc:
            spec: FieldSpec = exc.spec  # type: ignore[attr-defined]
            return RecordError(file, record, offset + spec.offset, spec.name, str(exc), rec)
        return RecordError(file, record, offset, None, "record cannot be decoded", rec)


class FixedWidthReader:
    """Streams a fixed-width export: RECFM F/FB (with or without line ends) or V/VB (RDW, BDW)."""

    def __init__(
        self,
        path: str | Path,
        layout: Layout,
        *,
        encoding: str = "cp037",
        recfm: framing.RecordFormat = "F",
        line_end: bytes | str | None = None,
        empty_numeric: EmptyNumeric = "error",
    ) -> None:
        self._path = Path(path)
        self.decoder = RecordDecoder(layout, encoding, empty_numeric=empty_numeric)
        self.recfm = framing.check_format(recfm)
        self.line_end = framing.line_end_bytes(line_end)
        if self.line_end is None and self.recfm in ("F", "FB"):
            with open(self._path, "rb") as f:
                head = f.read(framing.CHUNK_BYTES)
            self.line_end = framing.detect_line_end(head, layout.length)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.decoder.columns

    def locate(self, record: int) -> tuple[int, bytes, int | None]:
        length = self.decoder.layout.length
        if self.recfm in ("F", "FB"):
            offset = (record - 1) * (length + len(self.line_end or b""))
            with open(self._path, "rb") as f:
                f.seek(offset)
                return offset, f.read(length), None
        for chunk in framing.variable_chunks(self._path, blocked=self.recfm == "VB"):
            index = record - chunk.first
            if index < len(chunk.records):
                return chunk.offset(index), chunk.records[index], None
        raise ValueError(f"{self._path} has no record {record}")

    def __iter__(self) -> Iterator[Row | list[Row] | RecordError]:
        """Records in order; a chunk of good records comes as a list (one item per record)."""
        return self._items()

    def storage_items(
        self, required: Collection[str] = ()
    ) -> Iterator[Row | list[Row] | RecordError | StorageRun]:
        """The records, with chunks of good records as `StorageRun`s (decimals as text).

        Fields are never null here unless `empty_numeric="null"`, which, like a
        decimal field of more than `EXACT_DIGITS` digits (or a native binary one
        with decimals), keeps the plain items, converted by the loader.
        """
        decoder = self.decoder
        exact = all(
            (c.precision or EXACT_DIGITS + 1) <= EXACT_DIGITS
            for c in decoder.columns
            if c.type == "decimal"
        ) and not any(f.native and f.scale for f in decoder.layout.fields)
        if decoder._empty_null or not exact:
            return iter(self)
        layout, encoding = decoder.layout, decoder.encoding
        storing = RecordDecoder(layout, encoding, text_decimals=True)
        binary = {
            i: _binary(f, _text_number) for i, f in enumerate(layout.fields) if f.kind == "binary"
        }
        plain = fixed_plain.PlainRecords.of(layout, encoding, binary) if decoder._whole else None

        width = len(layout.fields)

        def chunk_rows(records: list[bytes]) -> StorageRun:
            rows = plain.rows(records) if plain is not None else None
            if rows is None:
                rows = map(storing.decode, records)
            return StorageRun.of_rows(rows, width)

        return self._items(chunk_rows)

    def _items(
        self, chunk_rows: Callable[[list[bytes]], StorageRun] | None = None
    ) -> Iterator[Row | list[Row] | RecordError | StorageRun]:
        """The records; a chunk of good ones as `chunk_rows` makes it, else as a list."""
        decoder = self.decoder
        decode = decoder.decode
        name = str(self._path)
        length = decoder.layout.length
        if self.recfm in ("F", "FB"):
            chunks = framing.fixed_chunks(self._path, length, self.line_end)
        else:
            chunks = framing.variable_chunks(self._path, blocked=self.recfm == "VB")
        for chunk in chunks:
            if set(map(len, chunk.records)) == {length}:
                try:
                    if chunk_rows is not None:
                        yield chunk_rows(chunk.records)
                    else:
                        yield [decode(rec) for rec in chunk.records]
                    continue
                except (ValueError, IndexError):
                    pass  # record by record, to find the bad ones
            for index, rec in enumerate(chunk.records):
                if len(rec) == length:
                    try:
                        yield decode(rec)
                        continue
                    except (ValueError, IndexError):
                        pass
                number, offset = chunk.first + index, chunk.offset(index)
                if len(rec) > length:
                    yield RecordError(
                        name,
                        number,
                        offset + length,
                        None,
                        f"record has {len(rec)} bytes; the layout describes {length}",
                        rec,
                    )
                else:
                    yield decoder.error(rec, file=name, record=number, offset=offset)


__all__ = ["FieldDecodeError", "FixedWidthReader", "RecordDecoder"]
