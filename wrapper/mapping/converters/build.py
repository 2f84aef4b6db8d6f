"""From a mapping declaration (`convert: ...`) and a reflected column to a converter.

The type table (`types.py`) decides what a column becomes when the mapping
names no converter, and caps what any declared converter may do on it. `init`
writes `converter.spec()`, which builds back into the same converter here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from legacy_adapters.base import ColumnInfo
from wrapper.mapping.converters.base import Converter, MappingSpecError
from wrapper.mapping.converters.codes import BooleanConverter, EnumConverter, NativeBooleanConverter
from wrapper.mapping.converters.native import (
    ArrayConverter,
    DurationConverter,
    GeometryConverter,
    JsonConverter,
    NativeDateConverter,
    NativeTimeConverter,
    RangeConverter,
    SetConverter,
    TimestampConverter,
    UuidConverter,
)
from wrapper.mapping.converters.numbers import (
    BitsConverter,
    ImpliedDecimalConverter,
    IntegerConverter,
    NumberConverter,
)
from wrapper.mapping.converters.temporal import LegacyDateConverter, LegacyTimeConverter
from wrapper.mapping.converters.text import (
    BytesConverter,
    EncodedTextConverter,
    ShownTextConverter,
    StringConverter,
)
from wrapper.mapping.converters.types import array_items, backend, column_type, integer_range

LEGACY = ("string", "trim", "text", "integer", "number", "decimal", "boolean", "enum", "date",
          "time", "bytes")  # fmt: skip
NATIVE = ("native_date", "native_time", "timestamp", "timestamptz", "duration", "native_boolean",
          "uuid", "json", "array", "set", "bits", "range", "geometry", "xml", "tsvector",
          "as_text")  # fmt: skip
NAMES = LEGACY + NATIVE


def _options(spec: Any, scalar_key: str) -> dict[str, Any]:
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


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def build_converter(spec: Any, column: ColumnInfo, dialect: str = "generic") -> Converter:
    """A converter for `column` (of a source with this dialect) from its mapping
    declaration (None: inferred from the type table)."""
    entry = column_type(column, dialect)
    if spec is None:
        spec = entry.converter
        if spec == "string" and column.fixed_length:
            spec = "trim"
    if isinstance(spec, str):
        name, options = spec, None
    elif isinstance(spec, Mapping) and len(spec) == 1:
        name, options = next(iter(spec.items()))
    else:
        raise MappingSpecError("a converter is a name or a mapping with one key")
    conv = _construct(str(name), options, column, dialect)
    return conv.restrict(entry.capabilities, entry.orders)


def infer_converter(column: ColumnInfo, dialect: str = "generic") -> Converter:
    """The converter a column gets when the mapping names none."""
    return build_converter(None, column, dialect)


def _construct(name: str, options: Any, column: ColumnInfo, dialect: str) -> Converter:
    storage = "str" if column.python_type == "str" else "int"
    pad_to = column.length if column.fixed_length else None
    mysql = backend(dialect) == "mysql"
    if options not in (None, {}) and name in (*NATIVE, "integer", "number", "bytes"):
        raise MappingSpecError(f"the {name} converter takes no options")
    match name:
        case "string" | "trim":
            opts = _options(options, "trim")
            return StringConverter(
                trim=bool(opts.get("trim", name == "trim" or column.fixed_length)),
                pad_to=pad_to,
                empty_as_null=bool(opts.get("empty_as_null", False)),
            )
        case "text":
            opts = _options(options, "encoding")
            return EncodedTextConverter(str(opts.get("encoding", "latin-1")))
        case "integer":
            low, high = integer_range(column, dialect)
            return IntegerConverter(exact=column.python_type == "int", low=low, high=high)
        case "number":
            return NumberConverter()
        case "decimal":
            opts = _options(options, "scale")
            return ImpliedDecimalConverter(opts.get("scale", 2), storage=storage)
        case "boolean":
            opts = _options(options, "true")
            return BooleanConverter(
                _list(opts.get("true", ["Y"])), _list(opts.get("false", ["N"])), pad_to
            )
        case "enum":
            if not isinstance(options, Mapping):
                raise MappingSpecError("enum takes a mapping of legacy code: name")
            keys = {(str(k) if storage == "str" else k): v for k, v in options.items()}
            return EnumConverter(keys, pad_to)
        case "date" | "time":
            opts = _options(options, "format")
            cls = LegacyDateConverter if name == "date" else LegacyTimeConverter
            return cls(
                str(opts.get("format", "YYYYMMDD" if name == "date" else "HHMMSS")),
                storage=storage,
                null_values=_list(opts.get("null", [])),
            )
        case "bytes":
            return BytesConverter()
        case "native_date":
            return NativeDateConverter(zero_dates=mysql)
        case "native_time":
            return NativeTimeConverter(durations=mysql)
        case "timestamp" | "timestamptz":
            return TimestampConverter(zone=name == "timestamptz", zero_dates=mysql)
        case "duration":
            return DurationConverter()
        case "native_boolean":
            return NativeBooleanConverter()
        case "uuid":
            return UuidConverter(as_uuid=column.python_type == "uuid")
        case "json":
            return JsonConverter()
        case "array":
            return ArrayConverter(array_items(column, dialect))
        case "set":
            return SetConverter()
        case "bits":
            return BitsConverter(column.length or 64)
        case "range":
            return RangeConverter()
        case "geometry":
            return GeometryConverter(srid_prefix=mysql)
        case "xml" | "tsvector" | "as_text":
            return ShownTextConverter(name)
    raise MappingSpecError(f"unknown converter {name!r}; use one of {', '.join(NAMES)}")
