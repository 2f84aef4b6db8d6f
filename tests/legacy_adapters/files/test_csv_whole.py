"""A plain CSV file read by SQLite itself (vsv): the same table as the general way, or that way."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from legacy_adapters.files import csv_ahead, csv_reader, csv_whole, loader
from legacy_adapters.files.csv_reader import CsvReader
from legacy_adapters.files.loader import LoadRejected, load

pytest.importorskip("sqlean")

TYPES = {"N": "integer", "D": "decimal(15,2)", "W": "date", "R": "decimal(7,4)"}
ROWS = [
    ("a", "Müller €", "0", "0.00", "2024-02-29", "0.0001"),
    ("b", "", "-0", "-0.00", "", "-123.4567"),
    ("c", " pad ", "0042", "007.50", "1999-12-31", ""),
    ("d", "x'y", "-999999999999999999", "9999999999999.99", "2000-01-01", "-0.5"),
    ("e", "back\\slash", "", "", "", ""),
    ("f", "tab-free", "999999999999999999", "-0.01", "2024-01-01", "12"),
]


@pytest.fixture
def paths(monkeypatch):
    """Every file may be read whole; which way each load went."""
    monkeypatch.setattr(csv_whole, "MIN_BYTES", 0)
    monkeypatch.setattr(csv_reader, "AHEAD", False)
    monkeypatch.setattr(csv_reader, "CHUNK_BYTES", 512)
    went: list[bool] = []
    load_whole = loader._Run.load_whole

    def spied(self, plain):
        went.append(load_whole(self, plain))
        return went[-1]

    monkeypatch.setattr(loader._Run, "load_whole", spied)
    return went


def write(tmp_path: Path, name: str, lines: list[str], encoding="utf-8", end="\n", bom=b""):
    path = tmp_path / name
    path.write_bytes(bom + (end.join(lines) + end).encode(encoding))
    return path


def data(count: int, delimiter: str = ",", ascii_only: bool = False) -> list[str]:
    out = []
    for i in range(count):
        key, text, *rest = ROWS[i % len(ROWS)]
        if ascii_only:
            text = text.encode("ascii", "replace").decode()
        out.append(delimiter.join((f"{key}{i}", text, *rest)))
    return out


def table(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT K, T, N, typeof(N), D, typeof(D), W, typeof(W), R, typeof(R) FROM t "
            "ORDER BY rowid"
        ).fetchall()


def both(tmp_path: Path, monkeypatch, reader: CsvReader, **options) -> tuple[list, list]:
    """The table loaded as the loader chooses, then with the whole-file way unavailable."""
    load(reader, tmp_path / "chosen.db", table="t", key=["K"], **options)
    with monkeypatch.context() as m:
        m.setattr(csv_whole, "connect", lambda path: None)
        load(reader, tmp_path / "general.db", table="t", key=["K"], **options)
    return table(tmp_path / "chosen.db"), table(tmp_path / "general.db")


@pytest.mark.parametrize(
    ("encoding", "bom", "end", "delimiter", "ascii_only"),
    [
        ("utf-8", b"", "\n", ",", False),
        ("utf-8-sig", b"\xef\xbb\xbf", "\r\n", ",", False),
        ("cp1252", b"", "\r\n", ";", True),
        ("latin-1", b"", "\n", "\t", True),
        ("utf-8", b"", "\n", "|", False),
    ],
)
def test_a_plain_file_read_whole_is_the_table_of_the_general_way(
    tmp_path, monkeypatch, paths, encoding, bom, end, delimiter, ascii_only
):
    header = delimiter.join(["K", "T", "N", "D", "W", "R"])
    lines = [header, *data(600, delimiter, ascii_only)]
    path = write(tmp_path, "t.csv", lines, encoding.replace("-sig", ""), end, bom)
    reader = CsvReader(path, encoding=encoding, delimiter=delimiter, types=TYPES)
    whole, general = both(tmp_path, monkeypatch, reader)
    assert paths == [True]
    assert whole == general
    assert len(whole) == 600
    assert whole[1] == ("b1", "", 0, "integer", 0, "integer", None, "null", -123.4567, "real")
    assert whole[3][2:6] == (-999999999999999999, "integer", 9999999999999.99, "real")
    assert whole[2][1] == " pad "
    if not ascii_only:
        assert whole[0][1] == "Müller €"


def test_a_file_without_header_is_read_whole(tmp_path, monkeypatch, paths):
    path = write(tmp_path, "t.csv", data(300))
    reader = CsvReader(path, header=False, columns=["K", "T", "N", "D", "W", "R"], types=TYPES)
    whole, general = both(tmp_path, monkeypatch, reader)
    assert paths == [True]
    assert whole == general and len(whole) == 300


@pytest.mark.parametrize(
    ("case", "change"),
    [
        ("a bad number late", lambda lines: lines.__setitem__(590, "z,x,1,4O.5,,")),
        ("an impossible date", lambda lines: lines.__setitem__(400, "z,x,1,1.5,2023-02-29,")),
        ("a quoted field", lambda lines: lines.__setitem__(500, 'z,"x, y",1,1.5,,')),
        ("a lone quote", lambda lines: lines.__setitem__(500, 'z,x"y,1,1.5,,')),
        ("a duplicate key", lambda lines: lines.__setitem__(450, "a0,again,1,1.5,,")),
        ("a 16-digit decimal", lambda lines: lines.__setitem__(300, "z,x,1,12345678901234.5,,")),
        ("a missing field", lambda lines: lines.__setitem__(200, "z,x,1,1.5,")),
        ("a blank line", lambda lines: lines.__setitem__(100, "")),
        ("a lone CR", lambda lines: lines.__setitem__(100, "z,x\ry,1,1.5,,")),
    ],
)
def test_a_file_that_is_not_plain_everywhere_is_loaded_the_general_way(
    tmp_path, monkeypatch, paths, case, change
):
    lines = ["K,T,N,D,W,R", *data(600)]
    change(lines)
    path = write(tmp_path, "t.csv", lines)
    reader = CsvReader(path, types=TYPES)
    whole, general = both(tmp_path, monkeypatch, reader, policy="quarantine")
    assert paths == [False]
    assert whole == general
    with sqlite3.connect(tmp_path / "chosen.db") as chosen:
        quarantined = chosen.execute("SELECT * FROM lw_quarantine ORDER BY record").fetchall()
    with sqlite3.connect(tmp_path / "general.db") as conn:
        assert quarantined == conn.execute("SELECT * FROM lw_quarantine ORDER BY record").fetchall()
    if case in ("a quoted field", "a lone quote", "a 16-digit decimal"):
        assert not quarantined
    else:
        assert quarantined
        assert {bad[0] for bad in quarantined} <= {100, 101, 200, 400, 450, 590}


def test_bad_records_are_located_after_starting_afresh(tmp_path, monkeypatch, paths):
    lines = ["K,T,N,D,W,R", *data(600)]
    lines[3] = "z,x,1,4O.5,,"  # in the first chunk: the insert is interrupted or refused
    path = write(tmp_path, "t.csv", lines, end="\r\n")
    with pytest.raises(LoadRejected) as info:
        load(CsvReader(path, types=TYPES), tmp_path / "t.db", table="t", key=["K"])
    assert paths == [False]
    [error] = info.value.report.errors
    assert (error.record, error.line, error.field, error.raw) == (3, 4, "D", b"z,x,1,4O.5,,")
    assert path.read_bytes()[error.offset :].startswith(error.raw)
    assert not (tmp_path / "t.db").exists()


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_non_ascii_text_in_another_encoding_is_never_read_as_utf8(
    tmp_path, monkeypatch, paths, encoding
):
    lines = ["K,T,N,D,W,R", *data(600, ascii_only=True)]
    lines[550] = "z,café Ä,1,1.5,,"
    path = write(tmp_path, "t.csv", lines, encoding)
    reader = CsvReader(path, encoding=encoding, types=TYPES)
    whole, general = both(tmp_path, monkeypatch, reader)
    assert paths == [False]
    assert whole == general
    assert whole[549][1] == "café Ä"


def test_undecodable_utf8_is_not_read_whole(tmp_path, monkeypatch, paths):
    lines = ["K,T,N,D,W,R", *data(600)]
    path = write(tmp_path, "t.csv", lines)
    raw = path.read_bytes().replace(b"M\xc3\xbcller", b"M\xfcller", 1)
    path.write_bytes(raw)
    with pytest.raises(LoadRejected) as info:
        load(CsvReader(path, types=TYPES), tmp_path / "t.db", table="t", key=["K"])
    assert paths == [False]
    [error] = info.value.report.errors
    assert error.record == 1 and "cannot be decoded" in error.message


def test_the_whole_way_is_not_taken_where_vsv_would_read_otherwise(tmp_path, monkeypatch, paths):
    lines = data(300)
    columns = ["K", "T", "N", "D", "W", "R"]
    bom = write(tmp_path, "bom.csv", lines, bom=b"\xef\xbb\xbf")
    assert CsvReader(bom, header=False, columns=columns, types=TYPES).plain_file(["K"]) is None
    quote = write(tmp_path, "it's.csv", ["K,T,N,D,W,R", *lines])
    assert CsvReader(quote, types=TYPES).plain_file(["K"]) is None
    two_lines = write(tmp_path, "h.csv", ['K,"T\nU",N,D,W,R', *lines])
    assert CsvReader(two_lines, types=TYPES).plain_file(["K"]) is None
    plain = write(tmp_path, "p.csv", ["K,T,N,D,W,R", *lines])
    assert CsvReader(plain, types=TYPES).plain_file(["K"]) is not None
    monkeypatch.setattr(csv_whole, "MIN_BYTES", 1 << 20)
    assert CsvReader(plain, types=TYPES).plain_file(["K"]) is None  # small: the general way


def test_a_whole_file_check_stops_when_told(tmp_path, paths):
    path = write(tmp_path, "t.csv", ["K,T,N,D,W,R", *data(50)])
    plain = CsvReader(path, types=TYPES).plain_file(["K"])
    assert plain is not None
    assert plain.check() == (50, True)  # rows "e" have empty typed fields
    stop = csv_whole.threading.Event()
    stop.set()
    assert plain.check(stop) is None


def test_without_sqlean_the_general_way_loads(tmp_path, monkeypatch, paths):
    monkeypatch.setattr(csv_whole, "connect", lambda path: None)
    monkeypatch.setattr(csv_ahead, "MIN_CHUNKS", 10**9)
    path = write(tmp_path, "t.csv", ["K,T,N,D,W,R", *data(100)])
    report = load(CsvReader(path, types=TYPES), tmp_path / "t.db", table="t", key=["K"])
    assert paths == [] and report.rows_loaded == 100


def test_without_empty_typed_fields_nothing_is_updated(tmp_path, monkeypatch, paths):
    lines = ["K,T,N,D,W,R"] + [
        line for line in data(600) if line[0] in "adf"
    ]  # no empty number or date
    lines[7] = "b,,1,2.5,2024-01-01,0"  # an empty text field stays ''
    path = write(tmp_path, "t.csv", lines)
    executed: list[str] = []
    connect = csv_whole.connect

    def tracing(path):
        db = connect(path)
        db.set_trace_callback(executed.append)
        return db

    monkeypatch.setattr(csv_whole, "connect", tracing)
    load(CsvReader(path, types=TYPES), tmp_path / "t.db", table="t", key=["K"])
    assert paths == [True]
    assert not [sql for sql in executed if sql.startswith("UPDATE")]
    rows = table(tmp_path / "t.db")
    assert rows[6][:4] == ("b", "", 1, "integer")
    assert all(row[i] in ("integer", "real") for row in rows for i in (3, 5, 9))
    assert {row[7] for row in rows} == {"text"}  # dates


def test_a_file_vsv_cannot_open_is_loaded_the_general_way(tmp_path, monkeypatch, paths):
    path = write(tmp_path, "t.csv", ["K,T,N,D,W,R", *data(100)])
    monkeypatch.setattr(
        csv_whole.PlainFile,
        "source_sql",
        lambda self: (
            f"CREATE VIRTUAL TABLE temp.{csv_whole.SOURCE} USING vsv(filename='/nonexistent')"
        ),
    )
    report = load(CsvReader(path, types=TYPES), tmp_path / "t.db", table="t", key=["K"])
    assert paths == [False] and report.rows_loaded == 100


def test_a_file_changed_while_it_is_read_is_loaded_again_the_general_way(
    tmp_path, monkeypatch, paths
):
    lines = ["K,T,N,D,W,R", *data(600)]
    path = write(tmp_path, "t.csv", lines)
    changed = ["K,T,N,D,W,R", *data(600)]
    changed[301] = changed[301].replace("Müller", "Mü11er")  # same length, another value
    check = csv_whole.PlainFile.check

    def rewritten_after_checking(self, stop=None):
        counted = check(self, stop)
        path.write_bytes(("\n".join(changed) + "\n").encode())  # as an export rewritten
        return counted

    monkeypatch.setattr(csv_whole.PlainFile, "check", rewritten_after_checking)
    load(CsvReader(path, types=TYPES), tmp_path / "t.db", table="t", key=["K"])
    assert paths == [False]
    assert table(tmp_path / "t.db")[300][1] == "Mü11er €"  # read again, as it now is


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_a_last_line_without_its_end_is_read_whole_alike(tmp_path, monkeypatch, paths, end):
    path = tmp_path / "t.csv"
    path.write_bytes(end.join(["K,T,N,D,W,R", *data(400)]).encode())  # no end after the last
    whole, general = both(tmp_path, monkeypatch, CsvReader(path, types=TYPES))
    assert paths == [True]
    assert whole == general and len(whole) == 400
    assert whole[-1][0] == "d399" and whole[-1][9] == "real"
