"""Plain chunks checked ahead in a second process: the same table and errors as without it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from legacy_adapters.files import csv_ahead, csv_reader
from legacy_adapters.files.csv_reader import CsvReader
from legacy_adapters.files.loader import load

TYPES = {"N": "integer", "D": "decimal(18,2)", "W": "date", "R": "decimal(7,4)"}
NASTY = [
    ("a", "0", "0.00", "2024-02-29", "0.0001"),
    ("b", "-0", "-0.00", "", "-123.4567"),
    ("c", "0042", "007.50", "1999-12-31", ""),
    ("d", "-999999999999999999", "9999999999999.99", "2000-01-01", "-0.5"),  # at the limits
    ("e", "", "", "", ""),
    ("f", "17", "1234567890123456", "2024-01-02", "1.2"),  # 16 digits: not plain
    ("g", "+5", " 7.25 ", "2024-01-03", "+0.1"),  # accepted, not plain
    ("h", "1", "2.5", "2023-02-29", "0"),  # not a date: a bad record
    ("i", "2", "4O.5", "2024-01-04", "0"),  # a letter O: a bad record
    ("j", '"3"', '"1.5"', "2024-01-05", "0"),  # quoted: the rest of the file is read by csv
]


@pytest.fixture
def ahead(monkeypatch):
    """Small chunks, a helper for any file, and every verdict waited for."""
    monkeypatch.setattr(csv_reader, "CHUNK_BYTES", 256)
    monkeypatch.setattr(csv_ahead, "MIN_CHUNKS", 0)
    monkeypatch.setattr(csv_ahead, "WAIT", True)
    monkeypatch.setattr(csv_ahead, "_cores", lambda: 2)
    used: list[int] = []
    close = csv_ahead.Ahead.close

    def counted(self):
        used.append(self.used)
        close(self)

    monkeypatch.setattr(csv_ahead.Ahead, "close", counted)
    return used


def nasty_file(tmp_path: Path, encoding: str, bom: bytes, end: str, quoted: bool) -> Path:
    lines = ["K,T,N,D,W,R"]
    for i in range(400):
        name = "Müller €" if encoding != "latin-1" else "Müller ß"
        row = NASTY[i % len(NASTY)]
        if row[0] == "j" and not (quoted and i > 300):
            continue
        if row[0] == "j":
            name = '"a, ""b""' + end + 'c"'  # quotes, a delimiter and a line end in a field
        lines.append(",".join((f"{row[0]}{i}", name if i % 3 else "", *row[1:])))
    path = tmp_path / f"nasty-{encoding}-{quoted}.csv"
    path.write_bytes(bom + (end.join(lines) + end).encode(encoding))
    return path


def loaded(path: Path, target: Path, encoding: str) -> tuple[list, list]:
    reader = CsvReader(path, encoding=encoding, types=TYPES)
    report = load(reader, target, table="t", key=["K"], policy="quarantine")
    with sqlite3.connect(target) as conn:
        table = conn.execute(
            "SELECT K, T, N, typeof(N), D, typeof(D), W, typeof(W), R, typeof(R) FROM t ORDER BY K"
        ).fetchall()
        quarantined = conn.execute(
            "SELECT record, line, offset, field, message, raw_base64 FROM lw_quarantine"
        ).fetchall()
    errors = [(e.record, e.line, e.offset, e.field, e.message, e.raw) for e in report.errors]
    assert [q[:5] for q in quarantined] == [e[:5] for e in errors]
    return table, errors


@pytest.mark.parametrize(
    ("encoding", "bom", "end", "quoted"),
    [
        ("utf-8", b"", "\n", False),
        ("utf-8", b"\xef\xbb\xbf", "\r\n", True),
        ("cp1252", b"", "\r\n", False),
        ("latin-1", b"", "\n", True),
    ],
)
def test_checked_ahead_loads_exactly_what_one_process_loads(
    tmp_path, monkeypatch, ahead, encoding, bom, end, quoted
):
    path = nasty_file(tmp_path, encoding, bom, end, quoted)
    with_helper = loaded(path, tmp_path / "ahead.db", encoding)
    assert ahead and ahead[0] > 10  # most chunks were checked by the helper
    monkeypatch.setattr(csv_reader, "AHEAD", False)
    alone = loaded(path, tmp_path / "alone.db", encoding)
    assert ahead == [ahead[0]]  # no helper the second time
    assert with_helper == alone
    table, errors = alone
    data = path.read_bytes()
    assert {e[3] for e in errors} == {"W", "D"}
    for _, _, offset, _, _, raw in errors:
        assert data[offset:].startswith(raw)
        assert raw.split(b",")[0].decode()[0] in "hi"
    rows = {r[0]: r for r in table}
    assert rows["d3"][2:6] == (-999999999999999999, "integer", 9999999999999.99, "real")
    assert rows["e4"][2:] == (None, "null") * 4
    assert rows["f5"][4:6] == (1234567890123456, "integer")
    assert rows["b1"][1] == ("Müller €" if encoding != "latin-1" else "Müller ß")
    if quoted:
        assert rows["j319"][1:4] == ('a, "b"' + end + "c", 3, "integer")


def test_a_verdict_for_other_bytes_is_not_taken(tmp_path, monkeypatch, ahead):
    """The helper read another file (as if the export changed): each chunk is checked again."""
    lines = ["ID,V"] + [f"{i},{i}.5" for i in range(2000)]
    good = tmp_path / "good.csv"
    good.write_text("\n".join(lines) + "\n")
    lines[1500] = "1499,4O.5"  # the same length, not a number
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    start = csv_ahead.Ahead.start
    monkeypatch.setattr(csv_ahead.Ahead, "start", lambda path, config: start(good, config))
    reader = CsvReader(bad, types={"V": "decimal(9,2)"})
    report = load(reader, tmp_path / "t.db", table="t", key=["ID"], policy="quarantine")
    assert ahead[0] > 10
    assert [(e.record, e.field, e.raw) for e in report.errors] == [(1500, "V", b"1499,4O.5")]


class FakeProcess:
    """A helper whose records the test writes."""

    def __init__(self) -> None:
        read, self.write = os.pipe()
        self.stdout = os.fdopen(read, "rb")
        self.stdin = None

    def send(self, *records: tuple[int, int, int]) -> None:
        os.write(self.write, b"".join(csv_ahead.RECORD.pack(*r) for r in records))

    def kill(self) -> None:
        os.close(self.write)

    def wait(self) -> int:
        return 0


def test_verdicts_are_taken_only_for_the_same_chunk_and_bytes():
    process = FakeProcess()
    ahead = csv_ahead.Ahead(process)
    raw = b"1,2\n3,4\n"
    crc = zlib.crc32(raw)
    assert ahead.verdict(0, raw) is csv_ahead.UNKNOWN  # nothing arrived yet: no waiting
    process.send((2, len(raw), crc), (2, len(raw), crc + 1), (1, len(raw) + 1, crc))
    process.send((7, len(raw), crc), (0, len(raw), crc), (2, len(raw), crc))
    assert ahead.verdict(1, raw) is csv_ahead.UNKNOWN  # another CRC (record 0 is dropped)
    assert ahead.verdict(2, raw) is csv_ahead.UNKNOWN  # another length
    assert ahead.verdict(3, raw) is csv_ahead.UNKNOWN  # no such verdict
    assert ahead.verdict(4, raw) == csv_ahead.NOT_PLAIN
    assert ahead.verdict(0, raw) is csv_ahead.UNKNOWN  # already passed
    process.send((2, 3, zlib.crc32(b"abc")))
    assert ahead.verdict(6, b"abc") == csv_ahead.FILLED  # record 5 skipped
    assert ahead.used == 2
    ahead.close()
    assert ahead.verdict(7, raw) is csv_ahead.UNKNOWN  # closed: never waits
    assert not ahead.open


@pytest.mark.parametrize("helper", ["/nonexistent/python", "exits"])
def test_a_helper_that_cannot_start_or_dies_changes_nothing(tmp_path, monkeypatch, helper):
    monkeypatch.setattr(csv_reader, "CHUNK_BYTES", 256)
    monkeypatch.setattr(csv_ahead, "MIN_CHUNKS", 0)
    monkeypatch.setattr(csv_ahead, "WAIT", True)
    monkeypatch.setattr(csv_ahead, "_cores", lambda: 2)
    if helper == "exits":
        popen = subprocess.Popen
        monkeypatch.setattr(
            csv_ahead.subprocess,
            "Popen",
            lambda args, **kw: popen([sys.executable, "-c", "import sys; sys.exit(3)"], **kw),
        )
    else:
        monkeypatch.setattr(csv_ahead.sys, "executable", helper)
    path = tmp_path / "t.csv"
    path.write_text("ID,V\n" + "".join(f"{i},{i}.25\n" for i in range(500)))
    report = load(CsvReader(path, types={"V": "decimal(9,2)"}), tmp_path / "t.db", table="t")
    assert report.rows_loaded == 500
    with sqlite3.connect(tmp_path / "t.db") as conn:
        assert conn.execute("SELECT sum(V), count(*) FROM t").fetchone() == (
            sum(i + 0.25 for i in range(500)),
            500,
        )


def test_no_helper_on_one_core_or_for_a_small_file(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_text("ID,V\n" + "".join(f"{i},{i}\n" for i in range(100)))
    started = []
    monkeypatch.setattr(csv_ahead.subprocess, "Popen", lambda *a, **k: started.append(a))
    config = {"plain": None, "skip": 1, "encoding": "utf-8", "bom": True}
    assert csv_ahead.Ahead.start(path, config) is None  # smaller than MIN_CHUNKS chunks
    monkeypatch.setattr(csv_ahead, "MIN_CHUNKS", 0)
    monkeypatch.setattr(csv_ahead, "_cores", lambda: 1)
    assert csv_ahead.Ahead.start(path, config) is None
    assert started == []
