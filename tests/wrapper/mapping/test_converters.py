"""Every converter both ways: legacy -> JSON (render) and query text -> legacy (parse)."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from legacy_adapters.base import ColumnInfo
from wrapper.mapping.converters import (
    ConversionError,
    MappingSpecError,
    build_converter,
    infer_converter,
)


def col(python_type: str = "str", length: int | None = None, fixed: bool = False) -> ColumnInfo:
    return ColumnInfo("C", "T", True, python_type, length, fixed)


CHAR8 = col("str", 8, True)
INT = col("int")


def rendered(conv, value):
    return orjson.loads(orjson.dumps(conv.render(value)))


def test_trim_removes_pad_and_restores_it_for_filters() -> None:
    conv = build_converter("trim", CHAR8)
    assert conv.render("AB      ") == "AB"
    assert conv.render(None) is None
    assert conv.parse("AB") == ("AB      ",)
    with pytest.raises(ConversionError, match="8 characters"):
        conv.parse("ABCDEFGHI")


def test_empty_as_null() -> None:
    conv = build_converter({"trim": {"empty_as_null": True}}, CHAR8)
    assert conv.render("        ") is None
    assert conv.render("X       ") == "X"


@pytest.mark.parametrize(
    ("fmt", "legacy", "iso"),
    [
        ("YYYYMMDD", 20261125, "2026-11-25"),
        ("CYYMMDD", 1261125, "2026-11-25"),
        ("CYYMMDD", 981231, "1998-12-31"),
        ("YYMMDD", 981231, "1998-12-31"),
        ("MMDDYY", 112526, "2026-11-25"),
        ("DDMMYYYY", 25112026, "2026-11-25"),
    ],
)
def test_dates_both_ways(fmt: str, legacy: int, iso: str) -> None:
    conv = build_converter({"date": fmt}, INT)
    assert conv.render(legacy) == iso
    assert conv.parse(iso) == (legacy,)


def test_date_sentinels_mean_null_and_bad_input_is_refused() -> None:
    conv = build_converter({"date": {"format": "YYYYMMDD", "null": [0, 99999999]}}, INT)
    assert conv.render(0) is None
    assert conv.render(99999999) is None
    assert conv.null_values == (0, 99999999)
    with pytest.raises(ConversionError, match="YYYY-MM-DD"):
        conv.parse("25.11.2026")
    assert conv.render(20261345) is None  # impossible legacy date


def test_char_dates_keep_their_storage() -> None:
    conv = build_converter(
        {"date": {"format": "YYYYMMDD", "null": ["00000000"]}}, col("str", 8, True)
    )
    assert conv.render("20261125") == "2026-11-25"
    assert conv.render("00000000") is None
    assert conv.parse("2026-01-02") == ("20260102",)
    assert "gte" in conv.operators


def test_only_order_preserving_dates_allow_ranges() -> None:
    assert "gte" in build_converter({"date": "YYYYMMDD"}, INT).operators
    assert "gte" in build_converter({"date": "CYYMMDD"}, INT).operators
    assert build_converter({"date": "MMDDYY"}, INT).operators == {
        "eq",
        "ne",
        "in",
        "isnull",
    }  # no ranges: MMDDYY is not in date order


def test_time() -> None:
    conv = build_converter({"time": {"format": "HHMMSS", "null": [0]}}, INT)
    assert conv.render(143005) == "14:30:05"
    assert conv.render(0) is None
    assert conv.parse("14:30:05") == (143005,)
    hhmm = build_converter({"time": "HHMM"}, col("str", 4, True))
    assert hhmm.render("0930") == "09:30:00"
    assert hhmm.parse("09:30") == ("0930",)
    with pytest.raises(ConversionError):
        hhmm.parse("09:30:15")
    for text in ("14:30:05+01:00", "14:30:05Z", "14:30:05.5"):  # never silently dropped
        with pytest.raises(ConversionError):
            conv.parse(text)


def test_boolean_flags() -> None:
    conv = build_converter({"boolean": {"true": ["Y", "y"], "false": "N"}}, col("str", 1, True))
    assert conv.render("Y") is True
    assert conv.render("y") is True
    assert conv.render("N") is False
    assert conv.render("?") is None
    assert conv.parse("true") == ("Y", "y")
    assert conv.parse("false") == ("N",)
    with pytest.raises(ConversionError, match="boolean"):
        conv.parse("maybe")


def test_enum_codes_to_names_and_back() -> None:
    conv = build_converter({"enum": {"RN": "running", "HD": "held"}}, col("str", 4, True))
    assert conv.render("RN  ") == "running"
    assert conv.render("ZZ  ") == "ZZ"  # unknown codes are passed through, not lost
    assert conv.parse("held") == ("HD  ",)
    with pytest.raises(ConversionError, match="held, running"):
        conv.parse("paused")
    assert conv.json_schema()["enum"] == ["held", "running"]


def test_implied_decimal_is_exact() -> None:
    conv = build_converter({"decimal": 2}, INT)
    assert orjson.dumps(conv.render(12345)) == b"123.45"
    assert orjson.dumps(conv.render(-5)) == b"-0.05"
    assert rendered(conv, 100) == 1.0
    assert conv.parse("123.45") == (12345,)
    assert conv.parse("-0.5") == (-50,)
    with pytest.raises(ConversionError, match="2 decimal places"):
        conv.parse("1.234")
    with pytest.raises(ConversionError):
        conv.parse("NaN")


def test_number_keeps_decimals_exact() -> None:
    conv = infer_converter(col("decimal"))
    assert orjson.dumps(conv.render(Decimal("12.30"))) == b"12.30"
    assert conv.parse("1e2") == (Decimal("1e2"),)
    with pytest.raises(ConversionError):
        conv.parse("abc")


def test_integer() -> None:
    conv = infer_converter(INT)
    assert conv.render(7) == 7
    assert conv.parse("42") == (42,)
    with pytest.raises(ConversionError, match="integer"):
        conv.parse("4.2")


@pytest.mark.parametrize(
    "text", ["\u0661\u0660", "\uff11\uff10", "\u0967\u0966", " 10", "10 ", "1_0", "+", "", "0x10"]
)
def test_numbers_take_ascii_digits_only(text: str) -> None:
    for conv in (infer_converter(INT), infer_converter(col("decimal"))):
        with pytest.raises(ConversionError):
            conv.parse(text)
    with pytest.raises(ConversionError):
        build_converter({"decimal": 2}, INT).parse(text)


def test_numbers_in_every_ascii_form() -> None:
    assert infer_converter(INT).parse("-10") == (-10,)
    assert infer_converter(INT).parse("+10") == (10,)
    decimal = infer_converter(col("decimal"))
    for text, value in (("1.5", "1.5"), (".5", "0.5"), ("5.", "5"), ("-2E3", "-2000")):
        assert decimal.parse(text) == (Decimal(value),)


def test_code_page_text() -> None:
    conv = build_converter({"text": {"encoding": "cp1252"}}, col("bytes"))
    legacy = "Müller – 10:00".encode("cp1252")
    assert conv.render(legacy) == "Müller – 10:00"
    assert conv.parse("Müller") == ("Müller".encode("cp1252"),)
    with pytest.raises(ConversionError, match="cp1252"):
        conv.parse("漢字")
    ebcdic = build_converter({"text": "cp037"}, col("bytes"))
    assert ebcdic.render("HELLO".encode("cp037")) == "HELLO"


def test_bad_declarations_are_refused() -> None:
    with pytest.raises(MappingSpecError, match="unknown converter"):
        build_converter("fancy", INT)
    with pytest.raises(MappingSpecError, match="date format"):
        build_converter({"date": "DD/MM"}, INT)
    with pytest.raises(MappingSpecError, match="encoding"):
        build_converter({"text": "klingon"}, col("bytes"))
    with pytest.raises(MappingSpecError):
        build_converter({"enum": {}}, CHAR8)
