"""Native SQL types: dates, times and timestamps, intervals, uuids, JSON
documents, arrays, MySQL SETs, PostgreSQL ranges and geometries.

Their names in a mapping never collide with the legacy digit converters:
`native_date` is a SQL DATE, `date` is always digits (`20261125`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal
from typing import Any

import orjson
from geomet import wkb

from wrapper.mapping.converters.base import (
    NULL_ONLY,
    ORDERED,
    ConversionError,
    Converter,
    Unrenderable,
    json_value,
)
from wrapper.operators import Capability

_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_CLOCK = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6})?"
_OFFSET = "(?:Z|[+-][0-9]{2}:[0-9]{2})"
_DATE_TEXT = re.compile(_DATE)
_TIME_TEXT = re.compile(f"{_CLOCK}{_OFFSET}?|24:00:00")
_SPAN_TEXT = re.compile(r"(-?)([0-9]{1,3}):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{1,6}))?")
_TIMESTAMP_TEXT = re.compile(f"{_DATE}[T ]{_CLOCK}{_OFFSET}?")
# MySQL/MariaDB "zero" dates (0000-00-00): the database's own "no value".
ZERO_DATE = "0000-00-00"
ZERO_DATETIME = "0000-00-00 00:00:00"


class NativeDateConverter(Converter):
    """SQL DATE -> `"2026-11-25"`. On MySQL/MariaDB the zero date `0000-00-00` means
    no value (null, found by `isnull=true`, never by comparisons)."""

    kind = "native_date"
    capabilities = ORDERED
    memoize = True

    def __init__(self, *, zero_dates: bool = False) -> None:
        self.zero_dates = zero_dates
        self.null_values = (ZERO_DATE,) if zero_dates else ()

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            if value.time() != dt.time(0) or value.tzinfo is not None:
                raise Unrenderable(f"{value!r} is not a date")
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str):
            if self.zero_dates and value.startswith(ZERO_DATE):
                return None
            if _DATE_TEXT.fullmatch(value):
                return dt.date.fromisoformat(value).isoformat()  # validates the day
        raise Unrenderable(f"{value!r} is not an ISO 8601 date")

    def parse(self, text: str) -> tuple[Any, ...]:
        if not _DATE_TEXT.fullmatch(text):
            raise ConversionError("is not a date in the form YYYY-MM-DD")
        try:
            return (dt.date.fromisoformat(text),)
        except ValueError:
            raise ConversionError("is not a date in the form YYYY-MM-DD") from None

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date"}


def _span_text(value: dt.timedelta) -> str:
    """A MySQL TIME (a duration of up to 838:59:59 either way) as `[-]HH:MM:SS[.ffffff]`."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    seconds = value.days * 86400 + value.seconds
    text = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return text + (f".{value.microseconds:06d}" if value.microseconds else "")


class NativeTimeConverter(Converter):
    """SQL TIME -> `"14:30:05"` (with `.ffffff` and an offset when the value has
    them). On MySQL/MariaDB a TIME is a duration from -838:59:59 to 838:59:59:
    `"26:00:00"` stays 26 hours, it is never wrapped to `"02:00:00"`."""

    kind = "native_time"
    capabilities = ORDERED
    memoize = True

    def __init__(self, *, durations: bool = False) -> None:
        self.durations = durations

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dt.time):
            return value.isoformat()
        if isinstance(value, dt.timedelta):
            if not self.durations and dt.timedelta(0) <= value < dt.timedelta(days=1):
                return (dt.datetime.min + value).time().isoformat()
            if self.durations:
                return _span_text(value)
        if isinstance(value, str) and (
            _TIME_TEXT.fullmatch(value) or (self.durations and _SPAN_TEXT.fullmatch(value))
        ):
            return value
        raise Unrenderable(f"{value!r} is not a time of day")

    def parse(self, text: str) -> tuple[Any, ...]:
        if self.durations:
            match = _SPAN_TEXT.fullmatch(text)
            if not match:
                raise ConversionError("is not a time in the form [-]HH:MM:SS (hours up to 838)")
            sign, h, m, s, fraction = match.groups()
            span = dt.timedelta(
                hours=int(h), minutes=int(m), seconds=int(s), microseconds=int(fraction or 0)
            )
            return (-span if sign else span,)
        if not _TIME_TEXT.fullmatch(text) or text == "24:00:00":
            raise ConversionError("is not a time in the form HH:MM:SS[.ffffff][+hh:mm]")
        return (dt.time.fromisoformat(text),)

    def json_schema(self) -> dict[str, Any]:
        if self.durations:
            return {
                "type": "string",
                "pattern": "^-?[0-9]{2,3}:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?$",
                "description": "a time of day or a duration up to 838:59:59 either way "
                "(MySQL TIME): hours may exceed 23",
            }
        return {
            "type": "string",
            "pattern": f"^(?:{_CLOCK}{_OFFSET}?|24:00:00)$",
            "description": "a time of day (an offset only when the column keeps one)",
        }


class TimestampConverter(Converter):
    """SQL TIMESTAMP/DATETIME -> `"2026-11-25T14:30:05"`.

    `timestamp` (no time zone): served as stored, without an offset; documented as
    a pattern, not as RFC 3339 `date-time` (which requires an offset).
    `timestamptz` (with a time zone): always with its offset, a `date-time`.
    On MySQL/MariaDB `0000-00-00 00:00:00` means no value."""

    capabilities = ORDERED
    memoize = True

    def __init__(self, *, zone: bool = False, zero_dates: bool = False) -> None:
        self.zone = zone
        self.zero_dates = zero_dates
        self.kind = "timestamptz" if zone else "timestamp"
        self.null_values = (ZERO_DATETIME,) if zero_dates else ()

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            if self.zero_dates and value.startswith(ZERO_DATE):
                return None
            if not _TIMESTAMP_TEXT.fullmatch(value):
                raise Unrenderable(f"{value!r} is not an ISO 8601 timestamp")
            value = dt.datetime.fromisoformat(value)
        if not isinstance(value, dt.datetime):
            raise Unrenderable(f"{value!r} is not a timestamp")
        if self.zone and value.tzinfo is None:
            raise Unrenderable(f"{value!r} has no offset")
        return value.isoformat()

    def parse(self, text: str) -> tuple[Any, ...]:
        if not _TIMESTAMP_TEXT.fullmatch(text):
            raise ConversionError("is not a timestamp in the form YYYY-MM-DDTHH:MM:SS")
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ConversionError("is not a timestamp in the form YYYY-MM-DDTHH:MM:SS") from None
        if self.zone and value.tzinfo is None:
            raise ConversionError("needs an offset (Z or +hh:mm): the column keeps time zones")
        return (value,)

    def json_schema(self) -> dict[str, Any]:
        if self.zone:
            return {"type": "string", "format": "date-time"}
        return {
            "type": "string",
            "pattern": f"^{_DATE}T{_CLOCK}{_OFFSET}?$",
            "description": "a date and time as stored, without an offset (a timestamp "
            "without time zone; an offset appears only where the column keeps one)",
        }


_ISO_DURATION = re.compile(
    r"(-)?P(?:([0-9]+)W)?(?:([0-9]+)D)?"
    r"(?:T(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+(?:\.[0-9]{1,6})?)S)?)?"
)


def duration_text(value: dt.timedelta) -> str:
    """A timedelta as an ISO 8601 duration: `P3DT4H5M6.789S`, `-P1D`, `PT0S`."""
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}P" + (f"{value.days}D" if value.days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or value.microseconds:
        fraction = f".{value.microseconds:06d}".rstrip("0") if value.microseconds else ""
        clock += f"{seconds}{fraction}S"
    if clock:
        text += "T" + clock
    return text if text not in ("P", "-P") else "PT0S"


class DurationConverter(Converter):
    """SQL INTERVAL -> an ISO 8601 duration (`P428DT4H5M6.789S`). Days, hours,
    minutes and seconds only: drivers count a month as 30 days."""

    kind = "duration"
    capabilities = ORDERED
    memoize = True

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, dt.timedelta):
            return duration_text(value)
        if isinstance(value, str) and _ISO_DURATION.fullmatch(value) and value[-1] != "P":
            return value
        raise Unrenderable(f"{value!r} is not a duration")

    def parse(self, text: str) -> tuple[Any, ...]:
        match = _ISO_DURATION.fullmatch(text)
        if not match or text.endswith(("P", "T")):
            raise ConversionError(
                "is not an ISO 8601 duration in days, hours, minutes and seconds (P1DT2H30M)"
            )
        sign, weeks, days, hours, minutes, seconds = match.groups()
        span = dt.timedelta(
            weeks=int(weeks or 0),
            days=int(days or 0),
            hours=int(hours or 0),
            minutes=int(minutes or 0),
            seconds=float(Decimal(seconds or 0)),
        )
        return (-span if sign else span,)

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": "^-?P(?!$)([0-9]+W)?([0-9]+D)?(T(?=[0-9])([0-9]+H)?([0-9]+M)?"
            "([0-9]+(\\.[0-9]+)?S)?)?$",
            "description": "an ISO 8601 duration (days, hours, minutes, seconds)",
        }


class UuidConverter(Converter):
    """uuid -> its canonical text `"238b910b-5889-45b1-b589-10bc33cb0451"`."""

    kind = "uuid"
    capabilities = ORDERED
    memoize = True

    def __init__(self, *, as_uuid: bool = True) -> None:
        self.as_uuid = as_uuid

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))

    def parse(self, text: str) -> tuple[Any, ...]:
        try:
            value = uuid.UUID(text)
        except ValueError:
            raise ConversionError("is not a UUID") from None
        return (value if self.as_uuid else str(value),)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "uuid"}


class JsonConverter(Converter):
    """json/jsonb -> the JSON value itself (objects, arrays, numbers: integers of
    any size stay exact). Only `isnull` filters; not sortable."""

    kind = "json"
    capabilities: frozenset[Capability] = NULL_ONLY
    sortable = False

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return orjson.Fragment(text.encode())

    def json_schema(self) -> dict[str, Any]:
        return {"description": "a JSON value, as stored"}


class ArrayConverter(Converter):
    """SQL arrays -> JSON arrays. Elements are never compared one by one: only
    `isnull` filters (an equality filter is refused with a 400, never answered
    with an empty page)."""

    kind = "array"
    capabilities: frozenset[Capability] = NULL_ONLY
    sortable = False

    def __init__(self, items: dict[str, Any] | None = None) -> None:
        self.items = dict(items or {})

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list | tuple):
            raise Unrenderable(f"a {type(value).__name__} is not an array")
        return [json_value(v) for v in value]

    def json_schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.items} if self.items else {"type": "array"}


class SetConverter(Converter):
    """MySQL/MariaDB SET -> an array of its members, in alphabetical order."""

    kind = "set"
    capabilities: frozenset[Capability] = NULL_ONLY
    sortable = False

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = value.split(",") if value else ()
        if not isinstance(value, set | frozenset | list | tuple):
            raise Unrenderable(f"a {type(value).__name__} is not a set")
        return sorted(str(v) for v in value if v != "")

    def json_schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string"}, "uniqueItems": True}


def _bound(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


class RangeConverter(Converter):
    """PostgreSQL ranges -> their literal: `"[92,102)"`, `"(,5]"`, `"empty"`;
    timestamps in ISO 8601 (`"[2026-06-01T07:00:00,2026-06-01T15:00:00)"`)."""

    kind = "range"
    capabilities: frozenset[Capability] = NULL_ONLY
    sortable = False

    def render(self, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if getattr(value, "isempty", False):
            return "empty"
        try:
            lower, upper = value.lower, value.upper
            opening = "[" if value.lower_inc else "("
            closing = "]" if value.upper_inc else ")"
        except AttributeError:
            raise Unrenderable(f"a {type(value).__name__} is not a range") from None
        return f"{opening}{_bound(lower)},{_bound(upper)}{closing}"

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": "^(empty|[\\[(][^,]*,[^,]*[\\])])$",
            "description": "a range: [ and ] include a bound, ( and ) exclude it, an "
            "empty bound is unbounded",
        }


_POINT_TEXT = re.compile(r"\(\s*([^,()]+)\s*,\s*([^,()]+)\s*\)")
_GEOJSON_TYPES = [
    "Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
    "GeometryCollection",
]  # fmt: skip


class GeometryConverter(Converter):
    """Geometries -> GeoJSON geometry objects (RFC 7946): MySQL/MariaDB GEOMETRY
    values (an SRID and WKB), PostGIS (hex EWKB) and PostgreSQL `point` (`(x,y)`)."""

    kind = "geometry"
    capabilities: frozenset[Capability] = NULL_ONLY
    sortable = False

    def __init__(self, *, srid_prefix: bool = False) -> None:
        self.srid_prefix = srid_prefix  # MySQL/MariaDB: 4 bytes of SRID before the WKB

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            point = _POINT_TEXT.fullmatch(value)
            if point:
                return {"type": "Point", "coordinates": [float(point[1]), float(point[2])]}
            value = bytes.fromhex(value)  # PostGIS hex EWKB
        elif isinstance(value, bytes | bytearray | memoryview):
            value = bytes(value)[4:] if self.srid_prefix else bytes(value)
        else:
            raise Unrenderable(f"a {type(value).__name__} is not a geometry")
        geometry = wkb.loads(value)
        geometry.pop("meta", None)
        geometry.pop("crs", None)
        return geometry

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "description": "a GeoJSON geometry (RFC 7946)",
            "properties": {"type": {"type": "string", "enum": _GEOJSON_TYPES}},
            "required": ["type"],
        }
