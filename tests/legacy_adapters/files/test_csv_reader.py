"""CSV exports: encodings, dialects, headers, types and located errors."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from legacy_adapters.files.csv_reader import CsvReader
from legacy_adapters.files.records import Column, FileFormatError, RecordError, each_record


def write(tmp_path: Path, data: bytes, name: str = "export.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("cp1252", b""),
        ("latin-1", b""),
        ("utf-8", b""),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-8-sig", b""),
    ],
)
def test_declared_encodings_are_transcoded(tmp_path, encoding, bom):
    names = ["Müller", "Señor Åström", "naïve"] + (["Œuvre €5"] if encoding != "latin-1" else [])
    text = "ID;NAME\r\n" + "".join(f"{i};{n}\r\n" for i, n in enumerate(names, 1))
    path = write(tmp_path, bom + text.encode(encoding))
    reader = CsvReader(path, encoding=encoding, delimiter=";")
    assert [c.name for c in reader.columns] == ["ID", "NAME"]  # no BOM glued to the first name
    assert list(each_record(reader)) == [(i, n) for i, n in enumerate(names, 1)]


def test_quoting_with_delimiters_quotes_and_newlines_inside_fields(tmp_path):
    path = write(
        tmp_path,
        b'ID,NOTE,QTY\n1,"a, b",5\n2,"say ""hi""",6\n3,"two\nlines",7\n4,plain,x\n',
    )
    out = list(each_record(CsvReader(path, types={"QTY": "integer"})))
    assert out[:3] == [(1, "a, b", 5), (2, 'say "hi"', 6), (3, "two\nlines", 7)]
    error = out[3]
    assert isinstance(error, RecordError)
    # record 4 starts on line 6: record 3 took lines 4 and 5
    assert (error.record, error.line, error.field) == (4, 6, "QTY")
    assert error.offset == len(b'ID,NOTE,QTY\n1,"a, b",5\n2,"say ""hi""",6\n3,"two\nlines",7\n')
    assert error.raw == b"4,plain,x"
    assert error.message == "'x' is not an integer"


def test_quoting_none_keeps_quotes(tmp_path):
    path = write(tmp_path, b'A|B\n"x"|y\n')
    assert list(each_record(CsvReader(path, delimiter="|", quoting="none"))) == [('"x"', "y")]


def test_types_are_inferred_from_a_sample(tmp_path):
    path = write(
        tmp_path,
        b"I,D,DT,T,MIX,EMPTY\n1,1.5,2024-01-31,a,1,\n-2,2.25,2024-02-29,b,x,\n,,,,,\n",
    )
    reader = CsvReader(path)
    assert reader.columns == (
        Column("I", "integer"),
        Column("D", "decimal", scale=2),
        Column("DT", "date"),
        Column("T", "text", nullable=False),  # an empty text field is ""
        Column("MIX", "text", nullable=False),
        Column("EMPTY", "text", nullable=False),
    )
    assert list(each_record(reader)) == [
        (1, Decimal("1.5"), date(2024, 1, 31), "a", "1", ""),
        (-2, Decimal("2.25"), date(2024, 2, 29), "b", "x", ""),
        (None, None, None, "", "", ""),
    ]


def test_an_inferred_type_binds_the_rest_of_the_file(tmp_path):
    rows = b"".join(b"%d,%d.5\n" % (i, i) for i in range(10))
    path = write(tmp_path, b"N,D\n" + rows + b"11,1.25\nx,2\n")
    out = list(each_record(CsvReader(path, sample=5)))
    assert out[10].message == "'1.25' has more than 1 decimals" and out[10].field == "D"
    assert out[11].field == "N" and out[11].record == 12


def test_declared_types_and_decimal_comma(tmp_path):
    path = write(tmp_path, b"N;AMT;WHEN;AT;CODE\n007;-1234,50;2024-12-31;2024-12-31 23:59:58;007\n")
    reader = CsvReader(
        path,
        delimiter=";",
        decimal_point=",",
        types={
            "N": "integer",
            "AMT": "decimal(9,2)",
            "WHEN": "date",
            "AT": "datetime",
            "CODE": "text",
        },
    )
    assert reader.columns[1] == Column("AMT", "decimal", precision=9, scale=2)
    assert list(each_record(reader)) == [
        (7, Decimal("-1234.50"), date(2024, 12, 31), datetime(2024, 12, 31, 23, 59, 58), "007")
    ]


@pytest.mark.parametrize(
    ("declared", "value", "message"),
    [
        ("integer", "1_000", "'1_000' is not an integer"),
        ("integer", "١٢", "is not an integer"),
        ("integer", "1.0", "is not an integer"),
        ("decimal(5,2)", "1.234", "'1.234' has more than 2 decimals"),
        ("decimal(5,2)", "NaN", "'NaN' is not a decimal number"),
        ("decimal(5,2)", "1e5", "'1e5' is not a decimal number"),
        ("date", "2024-02-30", "'2024-02-30' is not a date (YYYY-MM-DD)"),
        ("date", "20240201", "is not a date"),
        ("datetime", "2024-02-01", "is not a datetime"),
    ],
)
def test_values_not_of_the_declared_type_are_errors(tmp_path, declared, value, message):
    path = write(tmp_path, f"K,V\n1,{value}\n".encode())
    (error,) = list(each_record(CsvReader(path, types={"V": declared})))
    assert isinstance(error, RecordError)
    assert (error.record, error.line, error.offset, error.field) == (1, 2, 4, "V")
    assert message in error.message


def test_rows_with_another_number_of_fields_name_the_missing_column(tmp_path):
    path = write(tmp_path, b"A,B,C\n1,2,3\n4,5\n6,7,8,9\n")
    out = list(each_record(CsvReader(path)))
    assert out[0] == (1, 2, 3)
    assert (out[1].record, out[1].line, out[1].offset, out[1].field) == (2, 3, 12, "C")
    assert out[1].message == "2 fields where 3 are expected: missing C"
    assert (out[2].record, out[2].field, out[2].raw) == (3, None, b"6,7,8,9")


def test_undecodable_bytes_are_errors_naming_the_field(tmp_path):
    # a cp1252 export read as if it were UTF-8
    path = write(tmp_path, "ID,NAME,CITY\n1,ok,Bern\n2,Müller,Zürich\n3,ok,Genf\n".encode("cp1252"))
    out = list(each_record(CsvReader(path, encoding="utf-8")))
    assert out[0] == (1, "ok", "Bern") and out[2] == (3, "ok", "Genf")
    error = out[1]
    assert (error.record, error.line, error.offset, error.field) == (2, 3, 23, "NAME")
    assert error.message == "byte 0xFC cannot be decoded as utf-8"
    assert error.raw == "2,Müller,Zürich".encode("cp1252")
    # cp1252 leaves five bytes undefined
    path = write(tmp_path, b"ID,NAME\n1,a\x81b\n")
    (error,) = list(each_record(CsvReader(path, encoding="cp1252")))
    assert (error.field, error.message) == ("NAME", "byte 0x81 cannot be decoded as cp1252")


def test_a_header_that_changed_is_refused(tmp_path):
    path = write(tmp_path, b"ID,NAME,AMOUNT\n1,a,2\n")
    with pytest.raises(FileFormatError, match="missing AMT; unexpected AMOUNT"):
        CsvReader(path, columns=["ID", "NAME", "AMT"])
    with pytest.raises(FileFormatError, match="same columns in another order"):
        CsvReader(path, columns=["NAME", "ID", "AMOUNT"])
    with pytest.raises(FileFormatError, match="missing DUE"):
        CsvReader(path, columns=["ID", "NAME", "AMOUNT", "DUE"])
    assert list(each_record(CsvReader(path, columns=["ID", "NAME", "AMOUNT"]))) == [(1, "a", 2)]


def test_declared_columns_without_a_header_row(tmp_path):
    path = write(tmp_path, b"1,a\n2,b\n")
    reader = CsvReader(path, header=False, columns=["ID", "NAME"])
    assert list(each_record(reader)) == [(1, "a"), (2, "b")]
    with pytest.raises(ValueError, match="needs declared columns"):
        CsvReader(path, header=False)


def test_blank_lines_inside_are_errors_and_trailing_ones_are_not_data(tmp_path):
    path = write(tmp_path, b"A,B\n1,2\n\n3,4\n\n\n")
    out = list(each_record(CsvReader(path)))
    assert out[0] == (1, 2) and out[2] == (3, 4) and len(out) == 3
    assert (out[1].record, out[1].line, out[1].offset, out[1].message) == (2, 3, 8, "blank line")


def test_an_empty_file_has_no_header(tmp_path):
    with pytest.raises(FileFormatError, match="empty"):
        CsvReader(write(tmp_path, b""))


def test_records_are_located_again_for_later_errors(tmp_path):
    path = write(tmp_path, b'A,B\n1,"x\ny"\n2,z\n3,w\n')
    reader = CsvReader(path)
    assert reader.locate(3) == (len(b'A,B\n1,"x\ny"\n2,z\n'), b"3,w", 5)
    assert reader.locate(1) == (4, b'1,"x\ny"', 2)


def test_errors_across_many_chunks_keep_exact_offsets(tmp_path, monkeypatch):
    from legacy_adapters.files import csv_reader

    monkeypatch.setattr(csv_reader, "CHUNK_BYTES", 64)
    lines = [b"ID,V"] + [b"%d,%d" % (i, i) for i in range(1, 300)]
    lines[123] = b"123,oops"
    lines[250] = b"250,\xe9"
    path = write(tmp_path, b"\r\n".join(lines) + b"\r\n")
    out = list(each_record(CsvReader(path, types={"V": "integer"}, encoding="ascii")))
    errors = [e for e in out if isinstance(e, RecordError)]
    assert [(e.record, e.line, e.field, e.raw) for e in errors] == [
        (123, 124, "V", b"123,oops"),
        (250, 251, "V", b"250,\xe9"),
    ]
    for error in errors:
        assert path.read_bytes()[error.offset :].startswith(error.raw)
    assert len(out) == 299


def test_runs_of_records_convert_the_same_as_single_records(tmp_path):
    lines = ["N,D,W"] + [f"{i},{i}.5,2024-01-{i % 28 + 1:02d}" for i in range(3000)]
    lines[1500] = " 7 ,+1.25,"  # plain for a person, not for the column-wise check
    path = write(tmp_path, ("\n".join(lines) + "\n").encode())
    reader = CsvReader(path, types={"N": "integer", "D": "decimal(5,2)", "W": "date"})
    items = list(reader)
    assert any(type(item) is list for item in items)  # runs of good records come together
    out = list(each_record(reader))
    assert len(out) == 3000
    assert out[0] == (0, Decimal("0.5"), date(2024, 1, 1))
    assert out[1499] == (7, Decimal("1.25"), None)
    assert out[2999] == (2999, Decimal("2999.5"), date(2024, 1, 4))
