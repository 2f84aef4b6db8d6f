"""The loader: typed SQLite tables, reject and quarantine policies, atomic swap under readers."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from legacy_adapters.base import Condition, Order, Select, TableRef
from legacy_adapters.files import copybook
from legacy_adapters.files.csv_reader import CsvReader
from legacy_adapters.files.dbf import DbfReader
from legacy_adapters.files.fixed_width import FixedWidthReader
from legacy_adapters.files.loader import LoadRejected, load, loaded_report, loading_path
from legacy_adapters.files.records import Column, each_record
from legacy_adapters.sql import SQLAlchemySource

from . import dbf_files, encode

CUSTOMERS = """
       01  CUST-REC.
           05  CUST-NO     PIC X(6).
           05  NAME        PIC X(10).
           05  BALANCE     PIC S9(7)V99 COMP-3.
           05  VISITS      PIC 9(4) COMP.
           05  SINCE       PIC 9(8).
"""


def customer(no: str, name: str, balance: str, visits: int, since: int) -> bytes:
    return b"".join(
        [
            encode.text(no, 6, "cp037"),
            encode.text(name, 10, "cp037"),
            encode.comp3(balance, 9, 2),
            encode.binary(visits, 2, signed=False),
            encode.zoned_ebcdic(since, 8, signed=False),
        ]
    )


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_fixed_width_export_is_served_by_the_sql_source(tmp_path):
    data = tmp_path / "CUSTMAST.dat"
    data.write_bytes(
        customer("C00001", "Müller", "1234567.89", 3, 20240131)
        + customer("C00002", "Ng", "-0.05", 0, 19991231)
        + customer("C00003", "Åström", "100.00", 9999, 20000101)
    )
    reader = FixedWidthReader(data, copybook.parse(CUSTOMERS), encoding="cp037")
    target = tmp_path / "custmast.db"
    report = load(reader, target, key=["CUST-NO"], indexes=[["BALANCE"], ["SINCE", "NAME"]])
    assert (report.rows_loaded, report.records_rejected, report.swapped) == (3, 0, True)
    assert report.checksum == hashlib.sha256(data.read_bytes()).hexdigest()

    source = SQLAlchemySource(f"sqlite:///{target}")
    try:
        schema = source.reflect([TableRef("CUSTMAST")])
        (table,) = schema.tables
        assert table.primary_key == ("CUST-NO",)
        types = {c.name: (c.type, c.python_type, c.fixed_length) for c in table.columns}
        assert types == {
            "CUST-NO": ("CHAR(6)", "str", True),
            "NAME": ("CHAR(10)", "str", True),
            "BALANCE": ("NUMERIC(9, 2)", "decimal", False),
            "VISITS": ("INTEGER", "int", False),
            "SINCE": ("INTEGER", "int", False),
        }
        assert {ix.columns for ix in table.indexes} == {("BALANCE",), ("SINCE", "NAME")}
        query = Select(
            TableRef("CUSTMAST"),
            ("CUST-NO", "NAME", "BALANCE", "VISITS"),
            where=(Condition("BALANCE", "gte", Decimal("-0.05")),),
            order_by=(Order("BALANCE"),),
        )
        assert [tuple(r) for r in source.select(query)] == [
            ("C00002", "Ng        ", Decimal("-0.05"), 0),
            ("C00003", "Åström    ", Decimal("100.00"), 9999),
            ("C00001", "Müller    ", Decimal("1234567.89"), 3),
        ]
    finally:
        source.close()


def test_csv_types_become_sqlite_types(tmp_path):
    path = write_csv(
        tmp_path / "orders.csv",
        ["NO,AMT,DUE,NOTE", "1,12.5,2024-02-29,a", "2,,2024-03-01,", "3,0.25,,c"],
    )
    target = tmp_path / "orders.db"
    load(CsvReader(path), target, key=["NO"])
    assert rows(target, "SELECT NO, AMT, DUE, NOTE, typeof(DUE) FROM orders ORDER BY NO") == [
        (1, 12.5, "2024-02-29", "a", "text"),
        (2, None, "2024-03-01", "", "text"),
        (3, 0.25, None, "c", "null"),
    ]
    ddl = rows(target, "SELECT sql FROM sqlite_master WHERE name = 'orders'")[0][0]
    assert '"AMT" NUMERIC(15, 2)' in ddl and '"DUE" DATE' in ddl and '"NO" INTEGER' in ddl


def test_reject_keeps_the_previous_file_and_reports_where(tmp_path):
    target = tmp_path / "t.db"
    good = write_csv(tmp_path / "t.csv", ["ID,QTY", "1,5", "2,6"])
    load(CsvReader(good), target, key=["ID"])
    before = target.stat().st_ino
    bad = write_csv(tmp_path / "t2.csv", ["ID,QTY", "1,5", "2,x", "3", "1,7"])
    with pytest.raises(LoadRejected) as info:
        load(CsvReader(bad, types={"QTY": "integer"}), target, table="t", key=["ID"])
    report = info.value.report
    assert not report.swapped and report.rows_loaded == 0 and report.records_rejected == 3
    assert [(e.record, e.line, e.offset, e.field) for e in report.errors] == [
        (2, 3, 11, "QTY"),
        (3, 4, 15, "QTY"),
        (4, 5, 17, "ID"),
    ]
    assert "duplicate key (ID=1)" in report.errors[2].message
    assert (
        str(report.errors[0])
        == f"{bad}: record 2 (line 3), byte offset 11, field QTY: 'x' is not an integer"
    )
    assert target.stat().st_ino == before
    assert rows(target, "SELECT * FROM t ORDER BY ID") == [(1, 5), (2, 6)]
    assert not list(tmp_path.glob("*.loading.*"))


def test_quarantine_loads_the_good_records_and_keeps_the_bad_ones_raw(tmp_path):
    path = write_csv(tmp_path / "q.csv", ["ID,QTY", "1,5", "2,x", "3", "1,7", "4,8"])
    target = tmp_path / "q.db"
    report = load(
        CsvReader(path, types={"QTY": "integer"}), target, key=["ID"], policy="quarantine"
    )
    assert (report.rows_loaded, report.records_rejected, report.swapped) == (2, 3, True)
    assert rows(target, "SELECT * FROM q ORDER BY ID") == [(1, 5), (4, 8)]
    quarantined = rows(
        target, "SELECT record, line, offset, field, message, raw_base64 FROM lw_quarantine"
    )
    assert [(r[0], r[1], r[2], r[3], base64.b64decode(r[5])) for r in quarantined] == [
        (2, 3, 11, "QTY", b"2,x"),
        (3, 4, 15, "QTY", b"3"),
        (4, 5, 17, "ID", b"1,7"),
    ]
    assert rows(target, "SELECT rows_loaded, records_rejected, policy FROM lw_load_report") == [
        (2, 3, "quarantine")
    ]


def test_quarantine_has_a_ceiling(tmp_path):
    path = write_csv(tmp_path / "c.csv", ["ID", "1", "x", "y", "4"])
    with pytest.raises(LoadRejected, match="more than 1 bad records"):
        load(
            CsvReader(path, types={"ID": "integer"}),
            tmp_path / "c.db",
            policy="quarantine",
            max_rejected=1,
        )
    assert not (tmp_path / "c.db").exists()


def test_composite_keys_and_keys_without_a_value(tmp_path):
    path = write_csv(tmp_path / "k.csv", ["A,B,V", "1,1,x", "1,2,y", "1,1,z", ",3,w"])
    with pytest.raises(LoadRejected) as info:
        load(CsvReader(path), tmp_path / "k.db", key=["A", "B"])
    errors = info.value.report.errors
    assert [(e.record, e.field) for e in errors] == [(3, None), (4, "A")]
    assert "duplicate key (A=1, B=1)" in errors[0].message
    assert errors[1].message == "key column A has no value"


def test_an_empty_export_is_refused_unless_allowed(tmp_path):
    path = write_csv(tmp_path / "e.csv", ["ID,NAME"])
    reader = CsvReader(path, types={"ID": "integer"})
    with pytest.raises(LoadRejected, match="no record loaded"):
        load(reader, tmp_path / "e.db")
    report = load(reader, tmp_path / "e.db", allow_empty=True)
    assert report.rows_loaded == 0 and rows(tmp_path / "e.db", "SELECT count(*) FROM e") == [(0,)]


def test_lost_framing_rejects_the_export(tmp_path):
    data = tmp_path / "v.dat"
    good = customer("C00001", "A", "1.00", 1, 20240101)
    data.write_bytes(encode.rdw(good) + b"\x00\x02\x00\x00" + good)
    reader = FixedWidthReader(data, copybook.parse(CUSTOMERS), encoding="cp037", recfm="V")
    with pytest.raises(LoadRejected, match="record 2, byte offset 35: bad record descriptor word"):
        load(reader, tmp_path / "v.db", policy="quarantine")
    assert not (tmp_path / "v.db").exists() and not list(tmp_path.glob("*.loading.*"))


def test_decimals_stay_exact_or_are_refused(tmp_path):
    class Decimals:
        path = write_csv(tmp_path / "dec.csv", ["unused"])
        columns = (Column("ID", "integer"), Column("D", "decimal", precision=18, scale=2))
        values = [
            Decimal("123456789012.34"),
            Decimal("1234567890123456.00"),
            Decimal("1234567890123456.78"),
        ]

        def __iter__(self):
            return iter((i, v) for i, v in enumerate(self.values, 1))

        def locate(self, record):
            return record * 10, b"raw", None

    report = load(Decimals(), tmp_path / "dec.db", key=["ID"], policy="quarantine")
    assert report.rows_loaded == 2
    (error,) = report.errors
    assert (error.record, error.offset, error.field) == (3, 30, "D")
    assert "more than 15 significant digits" in error.message
    source = SQLAlchemySource(f"sqlite:///{tmp_path / 'dec.db'}")
    try:
        source.reflect([TableRef("dec")])
        got = source.select(Select(TableRef("dec"), ("D",), order_by=(Order("ID"),)))
        assert [r[0] for r in got] == [Decimal("123456789012.34"), Decimal("1234567890123456.00")]
    finally:
        source.close()


def test_deleted_dbf_records_are_counted_as_skipped(tmp_path):
    fields = [dbf_files.Field("ID", "N", 4), dbf_files.Field("NAME", "C", 5)]
    records = [
        (False, [dbf_files.numeric(1, 4), dbf_files.char("a", 5)]),
        (True, [dbf_files.numeric(2, 4), dbf_files.char("b", 5)]),
        (False, [dbf_files.numeric(3, 4), dbf_files.char("c", 5)]),
    ]
    path = dbf_files.write(tmp_path / "ITEMS.DBF", dbf_files.table(0x03, fields, records))
    report = load(DbfReader(path), tmp_path / "items.db", key=["ID"])
    assert (report.rows_loaded, report.records_skipped, report.table) == (2, 1, "ITEMS")
    assert rows(tmp_path / "items.db", "SELECT * FROM ITEMS") == [(1, "a"), (3, "c")]


def test_the_new_file_is_built_beside_the_live_one(tmp_path):
    target = tmp_path / "live.db"
    load(CsvReader(write_csv(tmp_path / "a.csv", ["ID", "1"])), target, table="t")
    seen = []

    class Watching:
        inner = CsvReader(write_csv(tmp_path / "b.csv", ["ID", "2", "3"]))
        path, columns, locate = inner.path, inner.columns, inner.locate

        def __iter__(self):
            for item in each_record(self.inner):
                seen.append((loading_path(target).exists(), rows(target, "SELECT ID FROM t")))
                yield item

    load(Watching(), target, table="t")
    assert seen == [(True, [(1,)]), (True, [(1,)])]
    assert loading_path(target).name == f"live.db.loading.{__import__('os').getpid()}"
    assert rows(target, "SELECT ID FROM t") == [(2,), (3,)]


def test_readers_never_see_a_mix_or_an_empty_table_while_exports_are_swapped(tmp_path):
    target = tmp_path / "gen.db"
    sizes = [500, 2000, 1200, 3000, 800, 1500]

    def export(generation: int) -> CsvReader:
        lines = ["ID,GEN"] + [f"{i},{generation}" for i in range(sizes[generation])]
        return CsvReader(
            write_csv(tmp_path / f"gen{generation}.csv", lines), types={"GEN": "integer"}
        )

    expected = {(sizes[g], g, g, sizes[g] * g) for g in range(len(sizes))}
    load(export(0), target, table="gen", key=["ID"])
    stop = threading.Event()
    seen: list[tuple] = []
    problems: list[BaseException] = []

    def fresh_connections() -> None:
        while not stop.is_set():
            try:
                conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
                try:
                    conn.execute("BEGIN")
                    count = conn.execute("SELECT count(*) FROM gen").fetchone()[0]
                    low, high, total = conn.execute(
                        "SELECT min(GEN), max(GEN), sum(GEN) FROM gen"
                    ).fetchone()
                    conn.execute("COMMIT")
                finally:
                    conn.close()
                seen.append((count, low, high, total))
            except BaseException as exc:  # collected and asserted on below
                problems.append(exc)
                return

    old = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    threads = [threading.Thread(target=fresh_connections) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for generation in range(1, len(sizes)):
            load(export(generation), target, table="gen", key=["ID"])
            with pytest.raises(LoadRejected):  # a broken export in between changes nothing
                load(
                    CsvReader(
                        write_csv(tmp_path / "bad.csv", ["ID,GEN", "1,x"]), types={"GEN": "integer"}
                    ),
                    target,
                    table="gen",
                )
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not problems
    assert seen and set(seen) <= expected
    # a connection opened before the swaps still reads the file it opened
    assert old.execute("SELECT count(*), max(GEN) FROM gen").fetchone() == (sizes[0], 0)
    old.close()
    assert rows(target, "SELECT count(*), min(GEN), max(GEN) FROM gen") == [(sizes[-1], 5, 5)]
    assert not list(tmp_path.glob("*.loading.*"))


def test_dates_times_booleans_and_floats_read_back_through_sqlalchemy(tmp_path):
    from datetime import date, datetime

    fields = [
        dbf_files.Field("ID", "I", 4),
        dbf_files.Field("DUE", "D", 8),
        dbf_files.Field("AT", "T", 8),
        dbf_files.Field("OK", "L", 1),
        dbf_files.Field("W", "B", 8),
        dbf_files.Field("PRICE", "Y", 8),
    ]
    values = [
        dbf_files.integer(1),
        dbf_files.day(date(2024, 2, 29)),
        dbf_files.timestamp(datetime(2024, 2, 29, 23, 59, 58)),
        dbf_files.logical(True),
        dbf_files.double(0.1),
        dbf_files.currency("-12.3456"),
    ]
    path = dbf_files.write(
        tmp_path / "T.DBF", dbf_files.table(dbf_files.VFP, fields, [(False, values)])
    )
    load(DbfReader(path), tmp_path / "t.db", key=["ID"])
    source = SQLAlchemySource(f"sqlite:///{tmp_path / 't.db'}")
    try:
        (table,) = source.reflect([TableRef("T")]).tables
        assert [c.python_type for c in table.columns] == [
            "int",
            "date",
            "datetime",
            "bool",
            "float",
            "decimal",
        ]
        (row,) = source.select(Select(TableRef("T"), ("ID", "DUE", "AT", "OK", "W", "PRICE")))
        assert tuple(row) == (
            1,
            date(2024, 2, 29),
            datetime(2024, 2, 29, 23, 59, 58),
            True,
            0.1,
            Decimal("-12.3456"),
        )
    finally:
        source.close()


def test_before_swap_sees_both_files_and_can_stop_the_swap(tmp_path):
    target = tmp_path / "s.db"
    first = load(CsvReader(write_csv(tmp_path / "a.csv", ["ID", "1"])), target, table="t")
    calls = []

    def compare(new_file, report):
        calls.append(
            (
                rows(new_file, "SELECT ID FROM t"),
                rows(target, "SELECT ID FROM t"),
                report.rows_loaded,
            )
        )

    second = load(
        CsvReader(write_csv(tmp_path / "b.csv", ["ID", "2", "3"])),
        target,
        table="t",
        before_swap=compare,
    )
    assert calls == [([(2,), (3,)], [(1,)], 2)]

    def refuse(new_file, report):
        raise RuntimeError("diff failed")

    with pytest.raises(RuntimeError, match="diff failed"):
        load(
            CsvReader(write_csv(tmp_path / "c.csv", ["ID", "4"])),
            target,
            table="t",
            before_swap=refuse,
        )
    assert rows(target, "SELECT ID FROM t") == [(2,), (3,)]
    assert not list(tmp_path.glob("*.loading.*"))
    report = loaded_report(target)
    assert report is not None and first.checksum != second.checksum
    assert (report["checksum"], report["rows_loaded"], report["table_name"]) == (
        second.checksum,
        2,
        "t",
    )
    assert report["loaded_at"] == second.loaded_at.isoformat()
    assert loaded_report(tmp_path / "missing.db") is None


def test_the_committed_file_is_checked_on_its_own_connection_before_the_swap(tmp_path, monkeypatch):
    from legacy_adapters.files import loader

    target = tmp_path / "live.db"
    load(CsvReader(write_csv(tmp_path / "a.csv", ["ID", "1"])), target, table="t", key=["ID"])
    checked = []
    connect = sqlite3.connect

    class Failing:
        """The check's connection: it sees the committed rows, then its check fails."""

        def __init__(self, path, **kwargs):
            self.conn = connect(path, **kwargs)
            checked.append((Path(path), self.conn.execute("SELECT count(*) FROM t").fetchone()))

        def execute(self, sql, *args):
            if sql == "PRAGMA quick_check":
                return connect(":memory:").execute("SELECT '*** in database main *** bad'")
            return self.conn.execute(sql, *args)

        def close(self):
            self.conn.close()

    calls = iter([connect])  # the first connection builds the file, the next one checks it
    monkeypatch.setattr(loader.sqlite3, "connect", lambda *a, **k: next(calls, Failing)(*a, **k))
    path = write_csv(tmp_path / "b.csv", ["ID", "2", "3"])
    with pytest.raises(RuntimeError, match="fails its check: \\*\\*\\* in database main"):
        load(CsvReader(path), target, table="t", key=["ID"], indexes=[["ID"]])
    assert checked == [(loading_path(target), (2,))]
    assert not loading_path(target).exists()
    monkeypatch.undo()
    assert rows(target, "SELECT ID FROM t") == [(1,)]


def test_indexes_built_after_the_rows_are_complete_and_used(tmp_path):
    lines = ["ID,NAME,BRANCH,AMT"] + [
        f"{i},n{(i * 7919) % 1000},B{i % 37},{(i * 31) % 1000}.{i % 100:02d}" for i in range(5000)
    ]
    target = tmp_path / "ix.db"
    load(
        CsvReader(write_csv(tmp_path / "ix.csv", lines), types={"AMT": "decimal(9,2)"}),
        target,
        table="t",
        key=["ID"],
        indexes=[["BRANCH"], ["NAME", "AMT"]],
    )
    assert rows(target, "PRAGMA integrity_check") == [("ok",)]
    plan = rows(target, "EXPLAIN QUERY PLAN SELECT ID FROM t WHERE BRANCH = 'B5'")
    assert "ix_t_1" in plan[0][-1]
    assert rows(target, "SELECT count(*) FROM t INDEXED BY ix_t_1 WHERE BRANCH = 'B5'") == [
        (sum(i % 37 == 5 for i in range(5000)),)
    ]
    assert rows(
        target, "SELECT NAME, AMT FROM t INDEXED BY ix_t_2 WHERE NAME = 'n7' ORDER BY AMT"
    ) == sorted(
        (
            (f"n{(i * 7919) % 1000}", float(f"{(i * 31) % 1000}.{i % 100:02d}"))
            for i in range(5000)
            if (i * 7919) % 1000 == 7
        ),
        key=lambda r: r[1],
    )
