"""The type table and the native converters: what each reflected type becomes on
each backend, both ways, and what a filter on it may be."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import orjson
import pytest
from psycopg.types.range import Range

from legacy_adapters.base import ColumnInfo
from wrapper.mapping.converters import (
    NAMES,
    ConversionError,
    MappingSpecError,
    build_converter,
    column_type,
    infer_converter,
)


def col(
    type_: str, python_type: str = "object", length: int | None = None, fixed: bool = False
) -> ColumnInfo:
    return ColumnInfo("C", type_, True, python_type, length, fixed)


def json(value) -> bytes:
    return orjson.dumps(value)


# (reflected type, python type, dialect) -> (converter inferred, operators offered, sortable)
TABLE = [
    (col("VARCHAR(20)", "str", 20), "postgresql", "string", "eq gt gte in isnull like lt lte ne startswith", True),
    (col("CHAR(4)", "str", 4, True), "mysql", "trim", "eq gt gte in isnull like lt lte ne startswith", True),
    (col("DATE", "date"), "postgresql", "native_date", "eq gt gte in isnull lt lte ne", True),
    (col("TIME", "time"), "mysql", "native_time", "eq gt gte in isnull lt lte ne", True),
    (col("TIMESTAMP", "datetime"), "postgresql", "timestamp", "eq gt gte in isnull lt lte ne", True),
    (col("TIMESTAMP WITH TIME ZONE", "datetime"), "postgresql", "timestamptz", "eq gt gte in isnull lt lte ne", True),
    (col("DATETIME", "datetime"), "sqlite", "timestamp", "isnull", False),
    (col("INTERVAL", "timedelta"), "postgresql", "duration", "eq gt gte in isnull lt lte ne", False),
    (col("BOOLEAN", "bool"), "postgresql", "native_boolean", "eq in isnull ne", True),
    (col("BIT", "object", 1), "mysql", "native_boolean", "eq in isnull ne", True),
    (col("BIT", "object", 8), "mysql", "bits", "eq in isnull ne", False),
    (col("BIT", "bitstring", 8), "postgresql", "string", "eq in isnull ne", False),
    (col("UUID", "uuid"), "postgresql", "uuid", "eq gt gte in isnull lt lte ne", True),
    (col("JSONB", "object"), "postgresql", "json", "isnull", False),
    (col("ARRAY", "list"), "postgresql", "array", "isnull", False),
    (col("TEXT[]", "list"), "postgresql", "array", "isnull", False),
    (col("ENUM", "str", 7), "mysql", "string", "eq in isnull ne", False),
    (col("ENUM", "str", 7), "postgresql", "string", "eq gt gte in isnull lt lte ne", True),
    (col("SET", "str", 5), "mysql", "set", "isnull", False),
    (col("YEAR", "object"), "mysql", "integer", "eq gt gte in isnull lt lte ne", True),
    (col("MONEY", "object"), "postgresql", "string", "eq gt gte in isnull lt lte ne", True),
    (col("NUMERIC(40, 20)", "decimal"), "postgresql", "number", "eq gt gte in isnull lt lte ne", True),
    (col("REAL", "float"), "postgresql", "number", "gt gte isnull lt lte", False),
    (col("NULL", "object"), "postgresql", "as_text", "isnull", False),
    (col("XML", "object"), "postgresql", "xml", "isnull", False),
    (col("TSVECTOR", "object"), "postgresql", "tsvector", "isnull", False),
    (col("INT4RANGE", "object"), "postgresql", "range", "isnull", False),
    (col("GEOMETRY", "object"), "mysql", "geometry", "isnull", False),
    (col("BYTEA", "bytes"), "postgresql", "bytes", "isnull", False),
    (col("DOMAIN", "object"), "postgresql", "as_text", "isnull", False),
    (col("int4", "int"), "odbc:postgresql", "integer", "eq gt gte in isnull lt lte ne", True),
    (col("timestamptz", "datetime"), "odbc:postgresql", "timestamptz", "eq gt gte in isnull lt lte ne", True),
    (col("GUID", "str"), "odbc:mssql", "uuid", "eq gt gte in isnull lt lte ne", True),
    (col("NULL", "object"), "sqlite", "as_text", "isnull", False),
]  # fmt: skip


@pytest.mark.parametrize(("column", "dialect", "name", "operators", "sortable"), TABLE)
def test_the_type_table(column, dialect, name, operators, sortable) -> None:
    conv = infer_converter(column, dialect)
    spec = conv.spec()
    assert (spec if isinstance(spec, str) else next(iter(spec))) == name
    assert " ".join(sorted(conv.operators)) == operators
    assert conv.sortable is sortable
    # what init writes builds back into the very same converter
    assert build_converter(spec, column, dialect).describe() == conv.describe()


def test_a_declared_converter_never_gets_more_than_the_type_allows() -> None:
    uuid_col = col("UUID", "uuid")
    assert "like" not in build_converter("string", uuid_col, "postgresql").operators
    xml = col("XML")
    assert build_converter("string", xml, "postgresql").operators == {"isnull"}
    # a legacy date on a CHAR(8) column keeps its own order
    char8 = col("CHAR(8)", "str", 8, True)
    assert "gte" in build_converter({"date": "YYYYMMDD"}, char8, "postgresql").operators


def test_every_converter_name_is_known_and_options_are_checked() -> None:
    for name in NAMES:
        if name in ("enum",):
            continue
        build_converter(name, col("VARCHAR(10)", "str", 10), "postgresql")
    with pytest.raises(MappingSpecError, match="unknown converter 'datetime'"):
        build_converter("datetime", col("TIMESTAMP", "datetime"))
    with pytest.raises(MappingSpecError, match="takes no options"):
        build_converter({"native_date": {"format": "YYYYMMDD"}}, col("DATE", "date"))


def test_native_dates_are_not_digits_and_zero_dates_mean_no_value() -> None:
    conv = infer_converter(col("DATE", "date"), "mysql")
    assert conv.render(dt.date(2026, 11, 25)) == "2026-11-25"
    assert conv.render("0000-00-00") is None
    assert conv.null_values == ("0000-00-00",)
    assert conv.parse("2026-11-25") == (dt.date(2026, 11, 25),)
    with pytest.raises(ConversionError):
        conv.parse("20261125")
    for bad in ("25/11/2026", 20261125, "2026-11-00"):
        with pytest.raises(ValueError):
            conv.render(bad)
    # PostgreSQL has no zero date: nothing is a sentinel there
    assert infer_converter(col("DATE", "date"), "postgresql").null_values == ()
    # and `date` is still the legacy digits converter
    assert build_converter("date", col("INTEGER", "int")).render(20261125) == "2026-11-25"


def test_mysql_time_is_a_duration_never_wrapped() -> None:
    conv = infer_converter(col("TIME", "time"), "mysql")
    assert conv.render(dt.timedelta(hours=26)) == "26:00:00"
    assert conv.render(-dt.timedelta(hours=1, minutes=30)) == "-01:30:00"
    assert conv.render(dt.timedelta(hours=838, minutes=59, seconds=59)) == "838:59:59"
    assert conv.render(dt.timedelta(hours=100, microseconds=500000)) == "100:00:00.500000"
    assert conv.render(dt.time(14, 30, 5)) == "14:30:05"
    assert conv.parse("26:00:00") == (dt.timedelta(hours=26),)
    assert conv.parse("-00:00:01") == (-dt.timedelta(seconds=1),)
    assert "838" in conv.json_schema()["pattern"] or "{2,3}" in conv.json_schema()["pattern"]


def test_times_and_timestamps() -> None:
    time = infer_converter(col("TIME", "time"), "postgresql")
    zone = dt.timezone(dt.timedelta(hours=1))
    assert time.render(dt.time(6, 8, 23, tzinfo=zone)) == "06:08:23+01:00"
    assert time.parse("06:08:23") == (dt.time(6, 8, 23),)
    with pytest.raises(ConversionError):
        time.parse("6:08")
    stamp = infer_converter(col("TIMESTAMP", "datetime"), "postgresql")
    assert stamp.render(dt.datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05"
    assert stamp.json_schema().get("format") is None  # no offset: not RFC 3339 date-time
    tz = infer_converter(col("TIMESTAMPTZ", "datetime"), "postgresql")
    assert tz.render(dt.datetime(2026, 1, 2, tzinfo=dt.UTC)) == "2026-01-02T00:00:00+00:00"
    assert tz.json_schema()["format"] == "date-time"
    with pytest.raises(ConversionError, match="offset"):
        tz.parse("2026-01-02T00:00:00")
    zero = infer_converter(col("DATETIME", "datetime"), "mysql")
    assert zero.render("0000-00-00 00:00:00.000000") is None


def test_intervals_as_iso_8601_durations() -> None:
    conv = infer_converter(col("INTERVAL", "timedelta"), "postgresql")
    span = dt.timedelta(days=428, hours=4, minutes=5, seconds=6, microseconds=789000)
    assert conv.render(span) == "P428DT4H5M6.789S"
    assert conv.render(dt.timedelta(days=-3)) == "-P3D"
    assert conv.render(dt.timedelta(0)) == "PT0S"
    assert conv.render(dt.timedelta(microseconds=1)) == "PT0.000001S"
    assert conv.parse("P1DT2H30M") == (dt.timedelta(days=1, hours=2, minutes=30),)
    assert conv.parse("-PT1.5S") == (-dt.timedelta(seconds=1.5),)
    for bad in ("P1Y", "P", "PT", "1 day"):
        with pytest.raises(ConversionError):
            conv.parse(bad)


def test_uuid_json_arrays_sets_ranges_geometries() -> None:
    ident = uuid.UUID("238b910b-5889-45b1-b589-10bc33cb0451")
    conv = infer_converter(col("UUID", "uuid"), "postgresql")
    assert conv.render(ident) == str(ident)
    assert conv.parse(str(ident).upper()) == (ident,)
    with pytest.raises(ConversionError):
        conv.parse("not-a-uuid")

    doc = infer_converter(col("JSONB"), "postgresql")
    assert json(doc.render({"big": 2**70, "x": [1, "ä"]})) == (
        b'{"big":1180591620717411303424,"x":[1,"\xc3\xa4"]}'
    )
    assert json(doc.render("text")) == b'"text"'

    array = infer_converter(col("_numeric", "list"), "postgresql")
    assert (
        json(array.render([Decimal("1.50"), None, 2**70])) == b"[1.50,null,1180591620717411303424]"
    )
    assert array.json_schema() == {"type": "array", "items": {"type": "number"}}

    members = infer_converter(col("SET", "str", 5), "mysql")
    assert members.render({"red", "green"}) == ["green", "red"]
    assert members.render(set()) == []
    assert members.render("red,blue") == ["blue", "red"]

    ranges = infer_converter(col("TSRANGE"), "postgresql")
    assert ranges.render(Range(1, 5, "[)")) == "[1,5)"
    assert ranges.render(Range(None, 5, "(]")) == "(,5]"
    assert ranges.render(Range(empty=True)) == "empty"
    start = dt.datetime(2026, 6, 1, 7)
    assert ranges.render(Range(start, None, "[)")) == "[2026-06-01T07:00:00,)"

    geometry = infer_converter(col("GEOMETRY"), "mysql")
    point = bytes.fromhex("e61000000101000000000000000000f03f0000000000000040")
    assert geometry.render(point) == {"type": "Point", "coordinates": [1.0, 2.0]}
    pg_point = infer_converter(col("POINT"), "postgresql")
    assert pg_point.render("(171.5,-6.25)") == {"type": "Point", "coordinates": [171.5, -6.25]}


def test_booleans_bits_and_numbers() -> None:
    flag = infer_converter(col("BOOLEAN", "bool"), "sqlite")
    assert [flag.render(v) for v in (True, 0, 1, "t", "f", None)] == [
        True, False, True, True, False, None,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        flag.render("maybe")  # unrenderable, never silently null
    assert flag.parse("true") == (True,)
    bits = infer_converter(col("BIT", "object", 8), "mysql")
    assert bits.render(b"\x01\x02") == 258
    assert bits.render(7) == 7
    number = infer_converter(col("DOUBLE PRECISION", "float"), "postgresql")
    for value in (float("nan"), float("inf"), Decimal("NaN")):
        with pytest.raises(ValueError):
            number.render(value)
    assert json(number.render(Decimal("12.30"))) == b"12.30"


@pytest.mark.parametrize(
    ("type_", "dialect", "inside", "outside"),
    [
        ("SMALLINT", "postgresql", 32767, 32768),
        ("INTEGER", "postgresql", -(2**31), -(2**31) - 1),
        ("BIGINT", "mysql", 2**64 - 1, 2**64),
        ("BIGINT UNSIGNED", "mysql", 2**64 - 1, -1),
        ("SMALLINT", "sqlite", 2**63 - 1, 2**63),
    ],
)
def test_integer_keys_outside_the_column_cannot_exist(type_, dialect, inside, outside) -> None:
    conv = infer_converter(col(type_, "int"), dialect)
    assert conv.parse(str(inside)) == (inside,)
    with pytest.raises(ConversionError, match="out of range"):
        conv.parse(str(outside))


def test_unknown_types_are_served_as_text_never_an_error() -> None:
    conv = infer_converter(col("HSTORE", "object"), "postgresql")
    assert column_type(col("HSTORE", "object"), "postgresql").converter == "as_text"
    assert conv.render({"a": "1"}) == "{'a': '1'}"
    assert conv.render(b"\x00\x01") == "AAE="
    assert conv.operators == {"isnull"}
