"""Plain CSV chunks load as validated text: the same table as the general path, errors located."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import pytest

from legacy_adapters.files import csv_reader
from legacy_adapters.files.csv_reader import CsvReader
from legacy_adapters.files.loader import LoadRejected, load
from legacy_adapters.files.records import RecordError, StorageRun, storage_items

TYPES = {"N": "integer", "D": "decimal(18,2)", "W": "date", "R": "decimal(7,4)"}
VALUES = [
    # name, integer, decimal, date, decimal(7,4)
    ("a", "0", "0.00", "2024-02-29", "0.0001"),
    ("b", "-0", "-0.00", "", "-123.4567"),
    ("c", "0042", "007.50", "1999-12-31", ""),
    ("d", "-999999999999999999", "9999999999999.99", "2000-01-01", "-0.5"),
    ("e", "999999999999999999", "-9999999999999.99", "2024-01-01", "12"),
    ("f", "", "", "", ""),
    ("g", "17", "1234567890123456", "2024-01-02", "1.2"),  # 16 digits: not plain
    ("h", "+5", " 7.25 ", "2024-01-03", "+0.1"),  # accepted, not plain
]


def write(tmp_path: Path, lines: list[str], name: str = "t.csv", end: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes((end.join(lines) + end).encode("cp1252"))
    return path


def table(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT K, N, typeof(N), D, typeof(D), W, typeof(W), R, typeof(R) FROM t ORDER BY K"
        ).fetchall()


def each(items: Iterable) -> list:
    """One item per record: runs taken apart."""
    out: list = []
    for item in items:
        if type(item) is StorageRun:
            out += item.rows()
        else:
            out += item if type(item) is list else [item]
    return out


def runs(reader: CsvReader, key: list[str]) -> int:
    return sum(type(item) is StorageRun for item in storage_items(reader, key))


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_plain_text_stores_exactly_what_the_converters_store(tmp_path, monkeypatch, end):
    monkeypatch.setattr(csv_reader, "CHUNK_BYTES", 64)  # rows g and h are in other chunks
    lines = ["K,N,D,W,R", *(",".join(v) for v in VALUES)]
    plain = write(tmp_path, lines, "plain.csv", end)
    # A quoted field makes the whole file go through the csv module and the converters.
    quoted = write(tmp_path, [lines[0], '"a"' + lines[1][1:], *lines[2:]], "quoted.csv", end)
    assert runs(CsvReader(plain, types=TYPES), ["K"]) >= 2
    assert runs(CsvReader(quoted, types=TYPES), ["K"]) == 0
    load(CsvReader(plain, types=TYPES), tmp_path / "plain.db", table="t", key=["K"])
    load(CsvReader(quoted, types=TYPES), tmp_path / "quoted.db", table="t", key=["K"])
    loaded = table(tmp_path / "plain.db")
    assert loaded == table(tmp_path / "quoted.db")
    assert loaded[1] == ("b", 0, "integer", 0, "integer", None, "null", -123.4567, "real")
    assert loaded[2][1:6] == (42, "integer", 7.5, "real", "1999-12-31")
    assert loaded[3][1:4] == (-999999999999999999, "integer", 9999999999999.99)
    assert loaded[5] == ("f", None, "null", None, "null", None, "null", None, "null")
    assert loaded[6][3:5] == (1234567890123456, "integer")


def test_a_bad_chunk_is_read_alone_and_later_chunks_stay_plain(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_reader, "CHUNK_BYTES", 64)
    lines = ["ID,V,T"] + [f"{i},{i}.5,x{i}" for i in range(1, 300)]
    lines[40] = "40,4O.5,x40"  # a letter O
    lines[41] = ""
    lines[120] = "120,1.25,x120,extra"
    lines[200] = '200,2.5,"quoted, with a comma"'
    lines[250] = "250,,x250"
    path = write(tmp_path, lines, end="\r\n")
    data = path.read_bytes()
    reader = CsvReader(path, types={"ID": "integer", "V": "decimal(9,2)"})
    items = list(storage_items(reader, ["ID"]))
    assert any(type(item) is StorageRun for item in items[:3])
    assert any(type(item) is StorageRun for item in items[5:])
    records = each(items)
    assert len(records) == 299
    errors = [r for r in records if isinstance(r, RecordError)]
    assert [(e.record, e.line, e.field, e.raw) for e in errors] == [
        (40, 41, "V", b"40,4O.5,x40"),
        (41, 42, None, b""),
        (120, 121, None, b"120,1.25,x120,extra"),
    ]
    assert errors[1].message == "blank line"
    for error in errors:
        assert data[error.offset :].startswith(error.raw)
    assert records[199] == (200, Decimal("2.5"), "quoted, with a comma")
    assert records[249] == (250, None, "x250")


def test_keys_without_a_value_are_not_plain_and_are_located(tmp_path):
    lines = ["ID,NAME"] + [f"{i},n{i}" for i in range(1, 100)] + [",nobody", "7,again"]
    path = write(tmp_path, lines)
    with pytest.raises(LoadRejected) as info:
        load(CsvReader(path, types={"ID": "integer"}), tmp_path / "k.db", key=["ID"])
    errors = info.value.report.errors
    assert [(e.record, e.line, e.field) for e in errors] == [(100, 101, "ID"), (101, 102, "ID")]
    assert errors[0].message == "key column ID has no value"
    assert "duplicate key (ID=7)" in errors[1].message


def test_impossible_dates_are_not_plain_and_are_named(tmp_path):
    path = write(tmp_path, ["ID,W", "1,2024-02-29", "2,2023-02-29", "3,2023-03-01"])
    with pytest.raises(LoadRejected) as info:
        load(CsvReader(path, types={"W": "date"}), tmp_path / "d.db", key=["ID"])
    [error] = info.value.report.errors
    assert (error.record, error.field, error.raw) == (2, "W", b"2,2023-02-29")


def test_duplicates_in_grouped_inserts_are_found_row_by_row(tmp_path):
    lines = ["ID,NAME"] + [f"{i},n{i}" for i in range(1, 1001)]
    lines[300] = "299,again"  # in the same group of rows as record 299
    lines[900] = "5,later"  # in a later batch
    path = write(tmp_path, lines)
    target = tmp_path / "d.db"
    report = load(
        CsvReader(path, types={"ID": "integer"}),
        target,
        table="t",
        key=["ID"],
        policy="quarantine",
        batch_rows=200,
    )
    assert (report.rows_loaded, report.records_rejected) == (998, 2)
    assert [(e.record, e.line, e.field) for e in report.errors] == [
        (300, 301, "ID"),
        (900, 901, "ID"),
    ]
    assert "duplicate key (ID=299)" in report.errors[0].message
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*), max(ID) FROM t").fetchone() == (998, 1000)
        assert conn.execute("SELECT NAME FROM t WHERE ID IN (5, 299) ORDER BY ID").fetchall() == [
            ("n5",),
            ("n299",),
        ]
        assert conn.execute("SELECT record FROM lw_quarantine ORDER BY record").fetchall() == [
            (300,),
            (900,),
        ]
        assert conn.execute("SELECT count(*) FROM t WHERE ID = 301").fetchone() == (1,)


@pytest.mark.parametrize(
    ("encoding", "bom"), [("cp1252", b""), ("latin-1", b""), ("utf-8-sig", b"\xef\xbb\xbf")]
)
def test_encodings_and_a_file_without_header_on_the_plain_path(tmp_path, encoding, bom):
    text = "1,Müller €5,12.50\n2,Señor,\n3,x,7\n" if encoding != "latin-1" else "1,Müller,1\n"
    path = tmp_path / "e.csv"
    path.write_bytes(bom + text.encode(encoding.replace("-sig", "")))
    reader = CsvReader(
        path,
        encoding=encoding,
        header=False,
        columns=["ID", "NAME", "AMT"],
        types={"AMT": "decimal(9,2)"},
    )
    assert runs(reader, ["ID"]) == 1
    load(reader, tmp_path / "e.db", table="t", key=["ID"])
    with sqlite3.connect(tmp_path / "e.db") as conn:
        loaded = conn.execute("SELECT ID, NAME, AMT FROM t ORDER BY ID").fetchall()
    expected = [tuple(line.split(",")) for line in text.splitlines()]
    assert [(str(i), n) for i, n, _ in loaded] == [(i, n) for i, n, _ in expected]
    assert [a for *_, a in loaded] == [float(a) if a else None for *_, a in expected]


def test_a_bad_record_after_a_headerless_plain_chunk_is_numbered_from_the_first_line(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(csv_reader, "CHUNK_BYTES", 8)  # "1,a\n2,b\n" is a chunk
    path = write(tmp_path, ["1,a", "2,b", "3", "4,d"])
    reader = CsvReader(path, header=False, columns=["ID", "V"], types={"ID": "integer"})
    items = list(storage_items(reader, ["ID"]))
    assert items[0].rows() == [("1", "a"), ("2", "b")]
    [error] = [i for i in items if isinstance(i, RecordError)]
    assert (error.record, error.line, error.offset, error.raw) == (3, 3, 8, b"3")


def test_an_escaped_line_end_across_chunks_stays_in_its_record(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_reader, "CHUNK_BYTES", 14)  # a chunk ends inside record 2
    data = b"ID,V\n1,a\n2,b\\\nc\n3,x\n4,d\n5,e\n"  # record 2 spans two lines
    path = tmp_path / "esc.csv"
    path.write_bytes(data)
    reader = CsvReader(path, escapechar="\\", quoting="none", types={"ID": "integer"})
    records = each(storage_items(reader, ["ID"]))
    assert [tuple(map(str, r[:2])) for r in records] == [
        ("1", "a"),
        ("2", "b\nc"),
        ("3", "x"),
        ("4", "d"),
        ("5", "e"),
    ]


def test_a_run_says_empty_only_when_a_typed_field_is_empty(tmp_path, monkeypatch):
    """Runs without an empty typed field are bound as they are; the others make "" NULL."""
    monkeypatch.setattr(csv_reader, "CHUNK_BYTES", 32)  # about two records a chunk
    lines = [
        "K,T,N,D,W",
        "a,,1,2.50,2024-01-01",  # an empty text field alone: nothing to make NULL
        "b,x,2,3.50,2024-01-02",
        ",x,3,4.50,2024-01-03",  # an empty text key: a value, ""
        "d,x,,5.50,2024-01-04",
        "e,x,5,,2024-01-05",
        "f,x,6,7.50,",
        "g,,7,8.50,2024-01-07",
        "h,x,8,9.5,2024-01-08",
    ]
    path = write(tmp_path, lines)
    types = {"N": "integer", "D": "decimal(9,2)", "W": "date"}
    items = list(storage_items(CsvReader(path, types=types), ["K"]))
    assert all(type(item) is StorageRun for item in items)
    typed = [2, 3, 4]  # N, D, W
    flags = [(run.empty, any(row[i] == "" for row in run.rows() for i in typed)) for run in items]
    assert all(said == found for said, found in flags)
    assert {said for said, _ in flags} == {True, False}
    load(CsvReader(path, types=types), tmp_path / "e.db", table="t", key=["K"])
    with sqlite3.connect(tmp_path / "e.db") as conn:
        loaded = conn.execute(
            "SELECT K, T, N, typeof(N), D, typeof(D), W, typeof(W) FROM t ORDER BY K"
        ).fetchall()
    assert loaded == [
        ("", "x", 3, "integer", 4.5, "real", "2024-01-03", "text"),
        ("a", "", 1, "integer", 2.5, "real", "2024-01-01", "text"),
        ("b", "x", 2, "integer", 3.5, "real", "2024-01-02", "text"),
        ("d", "x", None, "null", 5.5, "real", "2024-01-04", "text"),
        ("e", "x", 5, "integer", None, "null", "2024-01-05", "text"),
        ("f", "x", 6, "integer", 7.5, "real", None, "null"),
        ("g", "", 7, "integer", 8.5, "real", "2024-01-07", "text"),
        ("h", "x", 8, "integer", 9.5, "real", "2024-01-08", "text"),
    ]
