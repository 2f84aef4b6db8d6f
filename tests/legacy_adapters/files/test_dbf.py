"""DBF exports: dBase III/IV, FoxPro 2 and Visual FoxPro tables with memo files, built by hand."""

from __future__ import annotations

import struct
from datetime import date, datetime
from decimal import Decimal

import pytest

from legacy_adapters.files.dbf import DbfReader
from legacy_adapters.files.records import FileFormatError, RecordError, each_record

from . import dbf_files as d
from .dbf_files import Field

DBASE_FIELDS = [
    Field("NAME", "C", 12),
    Field("QTY", "N", 5),
    Field("PRICE", "N", 9, 2),
    Field("RATE", "F", 8, 3),
    Field("DUE", "D", 8),
    Field("OK", "L", 1),
    Field("NOTE", "M", 10),
]


def dbase_records(blocks: list[int]) -> list[tuple[bool, list[bytes]]]:
    return [
        (False, [d.char("Müller", 12), d.numeric(42, 5), d.numeric("-1234.50", 9),
                 d.numeric("0.125", 8), d.day(date(2024, 2, 29)), d.logical(True),
                 d.dbase_memo_pointer(blocks[0])]),
        (True, [d.char("gone", 12), d.numeric(1, 5), d.numeric("1.00", 9), d.numeric("1", 8),
                d.day(None), d.logical(False), d.dbase_memo_pointer(0)]),
        (False, [d.char("", 12), b" " * 5, b" " * 9, b" " * 8, d.day(None), d.logical(None),
                 d.dbase_memo_pointer(blocks[1])]),
    ]  # fmt: skip


EXPECTED = [
    ("Müller", 42, Decimal("-1234.50"), Decimal("0.125"), date(2024, 2, 29), True),
    None,  # deleted
    ("", None, None, None, None, None),
]


@pytest.mark.parametrize(
    ("version", "memo", "memo_name"),
    [
        (d.DBASE3_MEMO, d.dbase3_memo, "t.dbt"),
        (d.DBASE4_MEMO, d.dbase4_memo, "t.dbt"),
        (d.FOXPRO2_MEMO, d.fpt_memo, "t.fpt"),
    ],
)
def test_dbase_and_foxpro_tables_with_memos(tmp_path, version, memo, memo_name):
    long_note = ("Zeile " * 200).encode("cp1252")  # spans several memo blocks
    memo_bytes, blocks = memo([b"short note \xe9", long_note])
    d.write(tmp_path / memo_name, memo_bytes)
    path = d.write(tmp_path / "t.dbf", d.table(version, DBASE_FIELDS, dbase_records(blocks)))
    reader = DbfReader(path)
    assert [(c.name, c.type, c.precision, c.scale) for c in reader.columns] == [
        ("NAME", "text", None, 0),
        ("QTY", "integer", 5, 0),
        ("PRICE", "decimal", 8, 2),
        ("RATE", "decimal", 7, 3),
        ("DUE", "date", None, 0),
        ("OK", "boolean", None, 0),
        ("NOTE", "text", None, 0),
    ]
    out = list(each_record(reader))
    assert out[0] == (*EXPECTED[0], "short note é")
    assert out[1] is None and reader.deleted == 1
    assert out[2] == (*EXPECTED[2], long_note.decode("cp1252"))


def test_visual_foxpro_types_null_flags_and_varchar(tmp_path):
    fields = [
        Field("ID", "I", 4),
        Field("NAME", "C", 10),
        Field("CODE", "V", 6, flags=0x02),  # varchar, nullable
        Field("AMT", "N", 10, 2, flags=0x02),  # nullable
        Field("PRICE", "Y", 8),
        Field("WEIGHT", "B", 8),
        Field("AT", "T", 8),
        Field("NOTE", "M", 4, flags=0x02),
        Field("_NullFlags", "0", 1, flags=0x05),
    ]
    # bits: CODE varlength 0, CODE null 1, AMT null 2, NOTE null 3
    memo_bytes, blocks = d.fpt_memo([b"vfp memo"])
    d.write(tmp_path / "v.fpt", memo_bytes)
    records = [
        (False, [d.integer(1), d.char("full", 10), b"ABCDEF", d.numeric("12.50", 10),
                 d.currency("1234.5678"), d.double(2.5), d.timestamp(datetime(2000, 1, 1, 13, 14, 15)),
                 d.vfp_memo_pointer(blocks[0]), bytes([0b0000])]),
        (False, [d.integer(-2), d.char("nulls", 10), b"AB\0\0\0\x02", b" " * 10,
                 d.currency("-0.0001"), d.double(-1.0), d.timestamp(datetime(2024, 2, 29)),
                 d.vfp_memo_pointer(0), bytes([0b1101])]),
        (False, [d.integer(3), d.char("null code", 10), b"\0" * 6, d.numeric("1.00", 10),
                 d.currency("0"), d.double(0.0), d.timestamp(datetime(2024, 2, 29)),
                 d.vfp_memo_pointer(0), bytes([0b1010])]),
    ]  # fmt: skip
    path = d.write(tmp_path / "v.dbf", d.table(d.VFP, fields, records))
    reader = DbfReader(path)
    assert [c.name for c in reader.columns] == [f.name for f in fields[:-1]]  # no _NullFlags
    assert [c.type for c in reader.columns] == [
        "integer", "text", "text", "decimal", "decimal", "float", "datetime", "text"
    ]  # fmt: skip
    assert list(each_record(reader)) == [
        (1, "full", "ABCDEF", Decimal("12.50"), Decimal("1234.5678"), 2.5,
         datetime(2000, 1, 1, 13, 14, 15), "vfp memo"),
        (-2, "nulls", "AB", None, Decimal("-0.0001"), -1.0, datetime(2024, 2, 29), None),
        (3, "null code", None, Decimal("1.00"), Decimal("0"), 0.0, datetime(2024, 2, 29), None),
    ]  # fmt: skip


def test_julian_day_of_the_timestamp_encoder_is_the_known_one():
    assert struct.unpack("<II", d.timestamp(datetime(2000, 1, 1)))[0] == 2451545


def one_field_table(tmp_path, field: Field, values: list[bytes], version: int = 0x03):
    records = [(False, [v]) for v in values]
    return d.write(tmp_path / "e.dbf", d.table(version, [field], records))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (Field("N", "N", 5), b" 12a ", "invalid literal"),
        (Field("N", "N", 5, 1), b"*****", "numeric overflow"),
        (Field("D", "D", 8), b"20240230", "invalid date"),
        (Field("L", "L", 1), b"X", "Illegal value for logical field"),
        (Field("C", "C", 3), b"a\x81b", "can't decode byte 0x81"),
    ],
)
def test_bad_values_are_record_errors_naming_the_field(tmp_path, field, value, message):
    path = one_field_table(tmp_path, field, [value.rjust(field.length)[: field.length]] * 2)
    header_length = 32 + 32 + 1
    out = list(each_record(DbfReader(path)))
    assert all(isinstance(e, RecordError) for e in out)
    second = out[1]
    assert (second.record, second.field) == (2, field.name)
    assert second.offset == header_length + (1 + field.length) + 1
    assert message in second.message
    assert second.raw == b" " + value


def test_unknown_record_flags_are_errors_not_skipped(tmp_path):
    path = one_field_table(tmp_path, Field("C", "C", 2), [b"ab", b"cd"])
    data = bytearray(path.read_bytes())
    data[32 + 32 + 1 + 3] = ord("#")
    path.write_bytes(bytes(data))
    out = list(each_record(DbfReader(path)))
    assert out[0] == ("ab",)
    assert (out[1].record, out[1].field) == (2, None)
    assert "record flag X'23'" in out[1].message


def test_a_file_shorter_than_its_record_count_is_truncated(tmp_path):
    path = one_field_table(tmp_path, Field("C", "C", 4), [b"abcd", b"efgh", b"ijkl"])
    path.write_bytes(path.read_bytes()[:-4])  # the 0x1A and all but 2 bytes of record 3
    out = list(each_record(DbfReader(path)))
    assert out[:2] == [("abcd",), ("efgh",)]
    assert (out[2].record, out[2].message) == (3, "truncated record: 2 of 5 bytes")
    path.write_bytes(path.read_bytes()[: 65 + 5])
    with pytest.raises(FileFormatError, match="ends after 1 of the 3 records"):
        list(each_record(DbfReader(path)))


def test_memo_problems(tmp_path):
    fields = [Field("NOTE", "M", 10)]
    path = d.write(
        tmp_path / "m.dbf", d.table(d.DBASE4_MEMO, fields, [(False, [d.dbase_memo_pointer(1)])])
    )
    with pytest.raises(FileFormatError, match=r"no \.dbt/\.fpt"):
        DbfReader(path)
    memo_bytes, _ = d.dbase4_memo([b"x" * 100])
    d.write(tmp_path / "m.dbt", memo_bytes[:600])  # the memo is cut short
    (error,) = list(each_record(DbfReader(path)))
    assert (error.record, error.field) == (1, "NOTE")
    assert "ends inside a memo" in error.message


def test_not_a_dbf(tmp_path):
    with pytest.raises(FileFormatError, match="not a readable DBF"):
        DbfReader(
            d.write(tmp_path / "x.dbf", b"\x03" + b"\0" * 31 + b"NAME\0\0\0\0\0\0\0Z" + bytes(20))
        )
