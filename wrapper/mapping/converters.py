"""Converters between legacy values and modern JSON values, in both directions.

- `render(legacy)` turns a value read from the legacy source into a JSON-ready
  value (called once per field per row: keep it cheap).
- `parse(text)` turns a value written in a query string (modern form) into the
  legacy value(s) that mean it: `"running"` -> `("RN",)`, `"2026-01-01"` ->
  `(20260101,)`. Several legacy values can mean one modern value (`Y` and `y`
  both mean true), so it returns a tuple.
- `capabilities` say which kinds of filter a converter can translate
  faithfully (`equality`, `order`, `pattern`, `null`); the operators registry
  (`wrapper/operators.py`) turns them into operators. A `YYYYMMDD` integer keeps
  date order, so ranges work; an `MMDDYY` value does not, so it only allows
  equality.
- `null_values` are legacy sentinels that mean "no value" (a date of 0).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson

from legacy_adapters.base import ColumnInfo
from wrapper.operators import Capability, operators_for

EQUALITY: frozenset[Capability] = frozenset({"equality", "null"})
ORDERED: frozenset[Capability] = EQUALITY | {"order"}
TEXT: frozenset[Capability] = ORDERED | {"pattern"}


class ConversionError(ValueError):
    """A modern value that cannot be expressed in the legacy representation."""


class MappingSpecError(ValueError):
    """A converter declaration in the mapping file that makes no sense."""


class Converter:
    kind = "value"
    capabilities: frozenset[Capability] = EQUALITY
    null_values: tuple[Any, ...] = ()
    sortable = True
    # How row renderers may inline `render`: an expression on `{v}` (None: call it),
    # and whether results may be memoized (pure, on values that repeat).
    inline: str | None = None
    memoize = False

    @property
    def operators(self) -> frozenset[str]:
        """The filter operators this converter can translate faithfully."""
        return operators_for(self.capabilities)

    def render(self, value: Any) -> Any:
        return value

    def parse(self, text: str) -> tuple[Any, ...]:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        return {}


# ---------------------------------------------------------------------------- text


class StringConverter(Converter):
    """Text; CHAR(n) padding trimmed on the way out and restored on the way in."""

    kind = "string"
    capabilities = TEXT

    def __init__(self, *, trim: bool, pad_to: int | None, empty_as_null: bool = False) -> None:
        self.trim = trim
        self.pad_to = pad_to
        self.empty_as_null = empty_as_null
        self.fixed_length = pad_to is not None
        if not empty_as_null:
            self.inline = '{v} and {v}.rstrip(" ")' if trim else "{v}"

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        if self.trim:
            value = value.rstrip(" ")
        if self.empty_as_null and value.strip() == "":
            return None
        return value

    def parse(self, text: str) -> tuple[Any, ...]:
        if self.pad_to is not None:
            if len(text) > self.pad_to:
                raise ConversionError(f"is longer than the field's {self.pad_to} characters")
            text = text.ljust(self.pad_to)
        return (text,)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.pad_to:
            schema["maxLength"] = self.pad_to
        return schema


class EncodedTextConverter(Converter):
    """Text stored as bytes in a legacy code page (cp1252, cp437, cp037 ...)."""

    kind = "text"

    def __init__(self, encoding: str, *, trim: bool = True) -> None:
        try:
            "".encode(encoding)
        except LookupError:
            raise MappingSpecError(f"unknown text encoding {encoding!r}") from None
        self.encoding = encoding
        self.trim = trim

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        text = bytes(value).decode(self.encoding, errors="replace")
        return text.rstrip(" ") if self.trim else text

    def parse(self, text: str) -> tuple[Any, ...]:
        try:
            return (text.encode(self.encoding),)
        except UnicodeEncodeError:
            raise ConversionError(f"cannot be written in the {self.encoding} code page") from None

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string"}


class BytesConverter(Converter):
    """Opaque binary data as base64; it can only be tested for null."""

    kind = "bytes"
    capabilities: frozenset[Capability] = frozenset({"null"})
    sortable = False

    def render(self, value: Any) -> Any:
        return None if value is None else base64.b64encode(bytes(value)).decode("ascii")

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "contentEncoding": "base64"}


# ---------------------------------------------------------------------------- numbers

# Numbers in a query are written with ASCII digits only: int() and Decimal() would
# also take other scripts' digits, surrounding spaces and `_` separators.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


class IntegerConverter(Converter):
    kind = "integer"
    capabilities = ORDERED

    def __init__(self, *, exact: bool = False) -> None:
        if exact:  # the driver already returns int for this column
            self.inline = "{v}"

    def render(self, value: Any) -> Any:
        return None if value is None else int(value)

    def parse(self, text: str) -> tuple[Any, ...]:
        if not _INTEGER.fullmatch(text):
            raise ConversionError("is not an integer (digits 0-9)")
        number = int(text, 10)
        if not -(2**63) <= number < 2**63:
            raise ConversionError("is out of range for a legacy integer")
        return (number,)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer"}


def _decimal_json(value: Decimal) -> orjson.Fragment:
    return orjson.Fragment(format(value, "f").encode())


class NumberConverter(Converter):
    """NUMERIC/DECIMAL/FLOAT columns; exact decimals stay exact in the JSON text."""

    kind = "number"
    capabilities = ORDERED

    def render(self, value: Any) -> Any:
        if value is None or isinstance(value, int | float):
            return value
        return _decimal_json(value)

    def parse(self, text: str) -> tuple[Any, ...]:
        if not _DECIMAL.fullmatch(text):
            raise ConversionError("is not a number (digits 0-9, optional . and exponent)")
        number = Decimal(text)
        if not number.is_finite():
            raise ConversionError("is not a finite number")
        return (number,)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "number"}


class ImpliedDecimalConverter(Converter):
    """An integer with an implied decimal point: 12345 with scale 2 is 123.45."""

    memoize = True

    kind = "decimal"
    capabilities = ORDERED

    def __init__(self, scale: int, *, storage: str = "int") -> None:
        if not isinstance(scale, int) or not 0 <= scale <= 18:
            raise MappingSpecError("decimal scale must be an integer from 0 to 18")
        self.scale = scale
        self.factor = 10**scale
        self.storage = storage

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        number = int(value)
        if self.scale == 0:
            return number
        whole, frac = divmod(abs(number), self.factor)
        sign = "-" if number < 0 else ""
        return orjson.Fragment(f"{sign}{whole}.{frac:0{self.scale}d}".encode())

    def parse(self, text: str) -> tuple[Any, ...]:
        if not _DECIMAL.fullmatch(text):
            raise ConversionError("is not a decimal number (digits 0-9 and .)")
        number = Decimal(text)
        if not number.is_finite():
            raise ConversionError("is not a finite number")
        scaled = number * self.factor
        if scaled != scaled.to_integral_value():
            raise ConversionError(f"has more than {self.scale} decimal places")
        legacy = int(scaled)
        return (str(legacy) if self.storage == "str" else legacy,)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "number", "x-decimal-places": self.scale}


# ---------------------------------------------------------------------------- codes


def _as_code(value: Any) -> Any:
    return value.rstrip(" ") if isinstance(value, str) else value


class BooleanConverter(Converter):
    """Flags such as `Y`/`N`, `1`/`0`, `T`/`F`."""

    memoize = True

    kind = "boolean"
    capabilities = EQUALITY

    def __init__(
        self, true_values: Sequence[Any], false_values: Sequence[Any], pad_to: int | None
    ) -> None:
        if not true_values or not false_values:
            raise MappingSpecError("boolean needs at least one true and one false value")
        self.true_values = tuple(true_values)
        self.false_values = tuple(false_values)
        self.pad_to = pad_to
        self._lookup = {v: True for v in self.true_values} | {v: False for v in self.false_values}

    def render(self, value: Any) -> Any:
        return self._lookup.get(_as_code(value))

    def parse(self, text: str) -> tuple[Any, ...]:
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            values = self.true_values
        elif lowered in ("false", "0", "no"):
            values = self.false_values
        else:
            raise ConversionError("is not a boolean (use true or false)")
        return tuple(_pad(v, self.pad_to) for v in values)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class EnumConverter(Converter):
    """Legacy codes to readable names: `'RN'` <-> `"running"`."""

    memoize = True

    kind = "enum"

    def __init__(self, values: Mapping[Any, str], pad_to: int | None) -> None:
        if not values:
            raise MappingSpecError("enum needs at least one code: name pair")
        self.values = dict(values)
        self.pad_to = pad_to
        self.codes: dict[str, tuple[Any, ...]] = {}
        for code, name in self.values.items():
            if not isinstance(name, str):
                raise MappingSpecError(f"enum name for code {code!r} must be a string")
            self.codes[name] = (*self.codes.get(name, ()), _pad(code, pad_to))

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        code = _as_code(value)
        return self.values.get(code, code)

    def parse(self, text: str) -> tuple[Any, ...]:
        try:
            return self.codes[text]
        except KeyError:
            allowed = ", ".join(sorted(self.codes))
            raise ConversionError(f"is not one of: {allowed}") from None

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": sorted(self.codes)}


def _pad(value: Any, pad_to: int | None) -> Any:
    if pad_to and isinstance(value, str):
        return value.ljust(pad_to)
    return value


# ---------------------------------------------------------------------------- dates and times

# format -> (parse legacy digits to (y, m, d), format (y, m, d) to digits, width, keeps order)
_DATE_FORMATS: dict[str, tuple[Callable[[int], tuple[int, int, int]], Callable, int, bool]] = {
    "YYYYMMDD": (lambda n: (n // 10000, n // 100 % 100, n % 100),
                 lambda d: d.year * 10000 + d.month * 100 + d.day, 8, True),
    "CYYMMDD": (lambda n: (1900 + n // 10000, n // 100 % 100, n % 100),
                lambda d: (d.year - 1900) * 10000 + d.month * 100 + d.day, 7, True),
    "YYMMDD": (lambda n: (_century(n // 10000), n // 100 % 100, n % 100),
               lambda d: d.year % 100 * 10000 + d.month * 100 + d.day, 6, False),
    "MMDDYY": (lambda n: (_century(n % 100), n // 10000, n // 100 % 100),
               lambda d: d.month * 10000 + d.day * 100 + d.year % 100, 6, False),
    "DDMMYYYY": (lambda n: (n % 10000, n // 10000 % 100, n // 1000000),
                 lambda d: d.day * 1000000 + d.month * 10000 + d.year, 8, False),
}  # fmt: skip


def _century(yy: int) -> int:
    return 1900 + yy if yy >= 50 else 2000 + yy


class _DigitsConverter(Converter):
    """Dates and times stored as digits, in an integer or a CHAR column."""

    memoize = True

    def __init__(self, width: int, storage: str, null_values: Sequence[Any]) -> None:
        self.width = width
        self.storage = storage
        self.null_values = tuple(self._stored(v) for v in null_values)
        self._null_numbers = {int(str(v).strip() or 0) for v in null_values}

    def _stored(self, value: Any) -> Any:
        """A number (or a sentinel) in the column's own representation."""
        if self.storage == "str":
            text = str(value)
            return text.zfill(self.width) if text.strip() else text
        return int(value)

    def _number(self, value: Any) -> int | None:
        """The legacy value as a number; None for NULL, blanks and sentinels."""
        if value is None:
            return None
        if isinstance(value, str):
            value = value.strip()
            if not value.isdigit():
                return None
        number = int(value)
        return None if number in self._null_numbers else number


class LegacyDateConverter(_DigitsConverter):
    """Dates stored as digits (`20261125`, `'1261125'`) <-> ISO 8601 `"2026-11-25"`."""

    kind = "date"

    def __init__(self, fmt: str, *, storage: str, null_values: Sequence[Any] = ()) -> None:
        if fmt not in _DATE_FORMATS:
            raise MappingSpecError(f"unknown date format {fmt!r}; use one of {list(_DATE_FORMATS)}")
        self.fmt = fmt
        self._split, self._join, width, keeps_order = _DATE_FORMATS[fmt]
        # Fixed-width zero-padded digits sort like the numbers they spell.
        self.capabilities = ORDERED if keeps_order else EQUALITY
        super().__init__(width, storage, null_values)

    def render(self, value: Any) -> Any:
        number = self._number(value)
        if number is None:
            return None
        y, m, d = self._split(number)
        if not (1 <= m <= 12 and 1 <= d <= 31):
            return None
        return f"{y:04d}-{m:02d}-{d:02d}"

    def parse(self, text: str) -> tuple[Any, ...]:
        try:
            date = dt.date.fromisoformat(text)
        except ValueError:
            raise ConversionError("is not a date in the form YYYY-MM-DD") from None
        if self.fmt == "CYYMMDD" and not 1900 <= date.year <= 2899:
            raise ConversionError("is outside the years the legacy format can hold")
        return (self._stored(self._join(date)),)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date"}


class LegacyTimeConverter(_DigitsConverter):
    """Times stored as `HHMMSS` (or `HHMM`) digits <-> `"14:30:00"`."""

    kind = "time"
    capabilities = ORDERED

    def __init__(self, fmt: str, *, storage: str, null_values: Sequence[Any] = ()) -> None:
        if fmt not in ("HHMMSS", "HHMM"):
            raise MappingSpecError("time format must be HHMMSS or HHMM")
        self.fmt = fmt
        super().__init__(len(fmt), storage, null_values)

    def render(self, value: Any) -> Any:
        number = self._number(value)
        if number is None:
            return None
        if self.width == 4:
            number *= 100
        h, m, s = number // 10000, number // 100 % 100, number % 100
        if h > 23 or m > 59 or s > 59:
            return None
        return f"{h:02d}:{m:02d}:{s:02d}"

    def parse(self, text: str) -> tuple[Any, ...]:
        try:
            t = dt.time.fromisoformat(text)
        except ValueError:
            raise ConversionError("is not a time in the form HH:MM:SS") from None
        if t.tzinfo is not None or t.microsecond:
            raise ConversionError("is not a time in the form HH:MM:SS (no fraction, no offset)")
        number = t.hour * 10000 + t.minute * 100 + t.second
        if self.width == 4:
            if t.second:
                raise ConversionError("has seconds, which the legacy field does not hold")
            number //= 100
        return (self._stored(number),)

    def json_schema(self) -> dict[str, Any]:
        # Not JSON Schema's `time` format: RFC 3339 times carry an offset, these do not.
        seconds = "[0-5][0-9]" if self.width == 6 else "00"
        return {"type": "string", "pattern": f"^{_HOURS}:[0-5][0-9]:{seconds}$"}


_HOURS = "(?:[01][0-9]|2[0-3])"
_LOCAL_TIME = f"{_HOURS}:[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{{1,6}})?"
_OFFSET = "(?:Z|[+-][0-9]{2}:[0-9]{2})?"


class NativeTemporalConverter(Converter):
    """SQL DATE, TIME and TIMESTAMP columns as ISO 8601."""

    capabilities = ORDERED

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._parse = {
            "date": dt.date.fromisoformat,
            "datetime": dt.datetime.fromisoformat,
            "time": dt.time.fromisoformat,
        }[kind]

    def render(self, value: Any) -> Any:
        return None if value is None else value.isoformat()

    def parse(self, text: str) -> tuple[Any, ...]:
        try:
            return (self._parse(text),)
        except ValueError:
            raise ConversionError(f"is not an ISO 8601 {self.kind}") from None

    def json_schema(self) -> dict[str, Any]:
        # Times and timestamps without a time zone are valid here, unlike in RFC 3339
        # (JSON Schema's `time` and `date-time` formats): a pattern describes them.
        if self.kind == "date":
            return {"type": "string", "format": "date"}
        if self.kind == "time":
            return {"type": "string", "pattern": f"^{_LOCAL_TIME}{_OFFSET}$"}
        date = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
        return {"type": "string", "pattern": f"^{date}T{_LOCAL_TIME}{_OFFSET}$"}


class BooleanNativeConverter(BooleanConverter):
    def __init__(self) -> None:
        super().__init__((True,), (False,), None)


# ---------------------------------------------------------------------------- building


def _options(spec: Any, name: str, scalar_key: str) -> dict[str, Any]:
    """`{date: YYYYMMDD}` and `{date: {format: YYYYMMDD}}` mean the same."""
    if isinstance(spec, Mapping):
        # `{true: Y}` and `{null: [0]}` parse with boolean and null keys; take them as words.
        return {_word(k): v for k, v in spec.items()}
    if spec is None:
        return {}
    return {scalar_key: spec}


def _word(key: Any) -> Any:
    if key is None:
        return "null"
    return str(key).lower() if isinstance(key, bool) else key


def build_converter(spec: Any, column: ColumnInfo) -> Converter:
    """A converter for `column` from its mapping declaration (None: inferred)."""
    storage = "str" if column.python_type == "str" else "int"
    pad_to = column.length if column.fixed_length else None
    if spec is None:
        return infer_converter(column)
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, Mapping) and len(spec) == 1:
        name, raw = next(iter(spec.items()))
        options = raw
    else:
        raise MappingSpecError("a converter is a name or a mapping with one key")
    match name:
        case "string" | "trim":
            opts = _options(options, name, "trim")
            return StringConverter(
                trim=bool(opts.get("trim", name == "trim" or column.fixed_length)),
                pad_to=pad_to,
                empty_as_null=bool(opts.get("empty_as_null", False)),
            )
        case "text":
            opts = _options(options, name, "encoding")
            return EncodedTextConverter(str(opts.get("encoding", "latin-1")))
        case "integer":
            return IntegerConverter(exact=column.python_type == "int")
        case "number":
            return NumberConverter()
        case "decimal":
            opts = _options(options, name, "scale")
            return ImpliedDecimalConverter(opts.get("scale", 2), storage=storage)
        case "boolean":
            opts = _options(options, name, "true")
            true = opts.get("true", ["Y"])
            false = opts.get("false", ["N"])
            true = true if isinstance(true, list) else [true]
            false = false if isinstance(false, list) else [false]
            return BooleanConverter(true, false, pad_to)
        case "enum":
            if not isinstance(options, Mapping):
                raise MappingSpecError("enum takes a mapping of legacy code: name")
            keys = {(str(k) if storage == "str" else k): v for k, v in options.items()}
            return EnumConverter(keys, pad_to)
        case "date":
            opts = _options(options, name, "format")
            return LegacyDateConverter(
                str(opts.get("format", "YYYYMMDD")),
                storage=storage,
                null_values=_list(opts.get("null", [])),
            )
        case "time":
            opts = _options(options, name, "format")
            return LegacyTimeConverter(
                str(opts.get("format", "HHMMSS")),
                storage=storage,
                null_values=_list(opts.get("null", [])),
            )
        case "bytes":
            return BytesConverter()
    raise MappingSpecError(
        f"unknown converter {name!r}; use one of string, trim, text, integer, number, "
        "decimal, boolean, enum, date, time, bytes"
    )


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def infer_converter(column: ColumnInfo) -> Converter:
    """The converter a column gets when the mapping names none."""
    match column.python_type:
        case "str":
            return StringConverter(
                trim=column.fixed_length, pad_to=column.length if column.fixed_length else None
            )
        case "int":
            return IntegerConverter(exact=True)
        case "float" | "decimal":
            return NumberConverter()
        case "bool":
            return BooleanNativeConverter()
        case "date" | "datetime" | "time":
            return NativeTemporalConverter(column.python_type)
        case "bytes":
            return BytesConverter()
    return StringConverter(trim=False, pad_to=None)


def converter_name(conv: Converter) -> str:
    """The name `init` writes for an inferred converter."""
    if isinstance(conv, StringConverter):
        return "trim" if conv.trim else "string"
    return conv.kind
