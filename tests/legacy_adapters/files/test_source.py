"""The files source: new exports are loaded and switched in whole, refused ones leave the
previous export serving and say why, quarantine, concurrent reads during switches,
several processes sharing one store, and the key diff between two exports."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from legacy_adapters.base import Condition, Order, Select, SourceUnavailable, TableRef
from legacy_adapters.files import generations
from legacy_adapters.files.source import FilesSource
from wrapper.config.files import ExportConfig

from . import encode

CUST = TableRef("CUST")
ACCOUNTS_COPYBOOK = """
       01  ACCT-REC.
           05  ACCT-NO     PIC X(6).
           05  BALANCE     PIC S9(7)V99 COMP-3.
"""


def csv_spec(folder: Path, **options: object) -> ExportConfig:
    return ExportConfig(
        table="CUST",
        path=f"{folder}/",
        format="csv",
        key=("NO",),
        sort=(("NAME",),),
        types=(("QTY", "integer"),),
        **options,  # type: ignore[arg-type]
    )


def drop(folder: Path, name: str, text: str | bytes, *, age: int = 0) -> Path:
    """An export written under a temporary name and renamed, as a drop should be;
    `age` makes successive drops newer than the previous ones."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    temp = folder / f"{name}.part"
    temp.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    os.replace(temp, path)
    stamp = 1_700_000_000 + age
    os.utime(path, (stamp, stamp))
    return path


def rows(source: FilesSource, table: TableRef = CUST, columns=("NO", "NAME", "QTY")) -> list:
    return [tuple(r) for r in source.select(Select(table, columns, order_by=(Order("NO"),)))]


@pytest.fixture
def drops(tmp_path: Path) -> Path:
    return tmp_path / "drops"


def open_source(tmp_path: Path, *specs: ExportConfig) -> FilesSource:
    return FilesSource(specs, tmp_path / "store", check_interval=None)


def test_a_new_export_is_switched_in_and_the_diff_names_its_keys(tmp_path, drops):
    drop(drops, "cust-1.csv", "NO,NAME,QTY\nA,Ann,1\nB,Bob,2\nC,Cy,3\n", age=1)
    source = open_source(tmp_path, csv_spec(drops))
    try:
        assert rows(source) == [("A", "Ann", 1), ("B", "Bob", 2), ("C", "Cy", 3)]
        first = source.changes("CUST")
        assert first.created == [("A",), ("B",), ("C",)] and not first.updated + first.deleted
        drop(drops, "cust-2.csv", "NO,NAME,QTY\nA,Ann,1\nB,Bob,5\nD,Di,4\n", age=2)
        source.refresh()
        assert rows(source) == [("A", "Ann", 1), ("B", "Bob", 5), ("D", "Di", 4)]
        diff = source.changes("CUST")
        assert (diff.created, diff.updated, diff.deleted) == ([("D",)], [("B",)], [("C",)])
        assert [n for n, _ in generations.generations(tmp_path / "store")] == [1, 2]
        drop(drops, "cust-3.csv", "NO,NAME,QTY\nA,Ann,1\n", age=3)
        source.refresh()
        assert [n for n, _ in generations.generations(tmp_path / "store")] == [2, 3]
        diff = source.changes("CUST")
        assert (diff.created, diff.updated, diff.deleted) == ([], [], [("B",), ("D",)])
        source.refresh()  # nothing new: nothing loaded, the diff stays
        assert [n for n, _ in generations.generations(tmp_path / "store")] == [2, 3]
    finally:
        source.close()
    restarted = open_source(tmp_path, csv_spec(drops))
    try:
        diff = restarted.changes("CUST")
        assert (diff.created, diff.updated, diff.deleted) == ([], [], [("B",), ("D",)])
    finally:
        restarted.close()


def test_no_export_yet_is_unavailable_and_a_restart_serves_the_stored_export(tmp_path, drops):
    drops.mkdir()
    source = open_source(tmp_path, csv_spec(drops))
    try:
        with pytest.raises(SourceUnavailable, match="no export has been loaded yet for CUST"):
            source.ping()
        assert source.status()["tables"]["CUST"]["waiting_for_export"] is True
        drop(drops, "cust-1.csv", "NO,NAME,QTY\nA,Ann,1\n", age=1)
        source.refresh()
        source.ping()
    finally:
        source.close()
    again = open_source(tmp_path, csv_spec(drops))
    try:
        assert rows(again) == [("A", "Ann", 1)]
        assert [n for n, _ in generations.generations(tmp_path / "store")] == [1]  # not reloaded
    finally:
        again.close()


def accounts_spec(folder: Path, copybook: Path, policy: str = "reject") -> ExportConfig:
    return ExportConfig(
        table="ACCOUNTS",
        path=f"{folder}/",
        format="fixed_width",
        copybook=str(copybook),
        encoding="cp037",
        key=("ACCT-NO",),
        policy=policy,
    )


def account(no: str, balance: str) -> bytes:
    return encode.text(no, 6, "cp037") + encode.comp3(balance, 9, 2)


BROKEN = {
    # name: (format, bytes of the broken export, record, field, words of the message)
    "truncated record": ("fixed", account("A1", "1.00") + account("A2", "2.00")[:7], 2,
                         "BALANCE"),
    "bad packed digit": ("fixed", account("A1", "1.00") + b"A2    " + b"\x00\x00\x1a\x00\x0c", 2,
                         "BALANCE"),
    "wrong encoding": ("csv", "NO,NAME,QTY\nA,Ann,1\nB,M\xfcller,2\n".encode("latin-1"), 2,
                       "NAME"),
    "missing column": ("csv", b"NO,NAME,QTY\nA,Ann,1\nB,Bob\n", 2, "QTY"),
    "bad number": ("csv", b"NO,NAME,QTY\nA,Ann,1\nB,Bob,two\n", 2, "QTY"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_export_is_refused_and_the_previous_one_keeps_serving(tmp_path, drops, case):
    kind, data, record, field = BROKEN[case]
    copybook = tmp_path / "ACCOUNTS.cpy"
    copybook.write_text(ACCOUNTS_COPYBOOK)
    if kind == "fixed":
        spec = accounts_spec(drops, copybook)
        table, columns, good = TableRef("ACCOUNTS"), ("ACCT-NO", "BALANCE"), account("A0", "9.99")
    else:
        spec, table, columns = csv_spec(drops), CUST, ("NO", "NAME", "QTY")
        good = b"NO,NAME,QTY\nZ,Zoe,9\n"
    drop(drops, "export-1", good, age=1)
    source = open_source(tmp_path, spec)
    try:
        before = source.select(Select(table, columns))
        bad = drop(drops, "export-2", data, age=2)
        source.refresh()
        assert source.select(Select(table, columns)) == before
        state = source.status()["tables"][table.name]
        assert state["export"] == "export-1" and state["rows"] == 1
        error = state["last_error"]
        assert error["file"] == "export-2"
        first = error["errors"][0] if error["errors"] else None
        if first is not None:
            assert (first["file"], first["record"], first["field"]) == ("export-2", record, field)
            assert first["offset"] >= (6 + 5 if kind == "fixed" else len("NO,NAME,QTY\nA,Ann,1\n"))
        else:  # framing lost: the whole file is refused at the record where it broke
            assert f"record {record}" in error["reason"] and "byte offset" in error["reason"]
        assert state["records_rejected_total"] >= (1 if first else 0)
        source.refresh()  # the same bad export is not read again
        assert source.status()["tables"][table.name]["last_error"]["at"] == error["at"]
        bad.unlink()  # the served export is the newest again: nothing is wrong any more
        source.refresh()
        assert source.status()["tables"][table.name]["last_error"] is None
        drop(drops, "export-3", data, age=3)
        source.refresh()
        assert source.status()["tables"][table.name]["last_error"]["file"] == "export-3"
        drop(drops, "export-4", good.replace(b"Zoe", b"Zed"), age=4)
        source.refresh()
        assert source.status()["tables"][table.name]["last_error"] is None
    finally:
        source.close()


def test_a_header_that_changed_is_refused(tmp_path, drops):
    drop(drops, "cust-1.csv", "NO,NAME,QTY\nA,Ann,1\n", age=1)
    source = open_source(tmp_path, csv_spec(drops))
    try:
        drop(drops, "cust-2.csv", "NO,FULL_NAME,QTY\nA,Ann,1\n", age=2)
        source.refresh()
        error = source.status()["tables"]["CUST"]["last_error"]
        assert "columns changed" in error["reason"] and "FULL_NAME" in error["reason"]
        assert rows(source) == [("A", "Ann", 1)]
    finally:
        source.close()


def test_declared_columns_name_the_header_that_differs(tmp_path, drops):
    spec = csv_spec(drops, columns=("NO", "NAME", "QTY"))
    drop(drops, "cust-1.csv", "NO,NAME,QTY\nA,Ann,1\n", age=1)
    source = open_source(tmp_path, spec)
    try:
        drop(drops, "cust-2.csv", "NO,NAME,AMOUNT\nA,Ann,1\n", age=2)
        source.refresh()
        reason = source.status()["tables"]["CUST"]["last_error"]["reason"]
        assert "header" in reason and "AMOUNT" in reason
        assert rows(source) == [("A", "Ann", 1)]
    finally:
        source.close()


def test_quarantine_loads_the_good_records_and_keeps_the_bad_ones(tmp_path, drops):
    spec = csv_spec(drops, policy="quarantine")
    drop(drops, "cust-1.csv", "NO,NAME,QTY\nA,Ann,1\nB,Bob,two\nC,Cy,3\nA,Again,4\n", age=1)
    source = open_source(tmp_path, spec)
    try:
        assert rows(source) == [("A", "Ann", 1), ("C", "Cy", 3)]
        state = source.status()["tables"]["CUST"]
        assert state["rows"] == 2 and state["records_rejected"] == 2
        assert [(q["record"], q["field"]) for q in state["quarantined"]] == [(2, "QTY"), (4, "NO")]
        (_, store), *_ = generations.generations(tmp_path / "store")
        import sqlite3

        with sqlite3.connect(store) as conn:
            kept = conn.execute(
                'SELECT record, field FROM "lw_quarantine_CUST" ORDER BY record'
            ).fetchall()
        assert kept == [(2, "QTY"), (4, "NO")]
    finally:
        source.close()


def test_reads_during_switches_see_one_whole_export(tmp_path, drops):
    """Each export k has 50 + k rows, all with QTY = k: a read sees one k, all its rows."""

    def export(k: int) -> str:
        return "NO,NAME,QTY\n" + "".join(f"K{n:04d},n{n},{k}\n" for n in range(50 + k))

    drop(drops, "cust-0.csv", export(0), age=0)
    source = open_source(tmp_path, csv_spec(drops))
    seen: set[int] = set()
    problems: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                got = source.select(Select(CUST, ("QTY",)))
                counted, _ = source.count(Select(CUST, (), (Condition("QTY", "gte", 0),)))
            except Exception as exc:
                problems.append(repr(exc))
                return
            versions = {q for (q,) in got}
            if len(versions) != 1 or len(got) != 50 + min(versions):
                problems.append(f"mixed or partial read: {len(got)} rows of {versions}")
            if counted < 50:
                problems.append(f"count {counted}")
            seen.update(versions)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    try:
        for k in range(1, 8):
            drop(drops, f"cust-{k}.csv", export(k), age=k)
            source.refresh()
            time.sleep(0.02)
    finally:
        stop.set()
        for thread in readers:
            thread.join()
        source.close()
    assert not problems
    assert len(seen) > 1  # the readers did read across switches


def test_two_processes_share_the_store_and_load_each_export_once(tmp_path, drops):
    drop(drops, "cust-1.csv", "NO,NAME,QTY\nA,Ann,1\n", age=1)
    first = open_source(tmp_path, csv_spec(drops))
    second = open_source(tmp_path, csv_spec(drops))
    try:
        drop(drops, "cust-2.csv", "NO,NAME,QTY\nA,Ann,2\n", age=2)
        first.refresh()
        second.refresh()  # adopts the generation the first one built
        assert [n for n, _ in generations.generations(tmp_path / "store")] == [1, 2]
        assert rows(second) == rows(first) == [("A", "Ann", 2)]
    finally:
        first.close()
        second.close()


def test_the_watcher_picks_up_a_new_export(tmp_path, drops):
    drop(drops, "cust-1.csv", "NO,NAME,QTY\nA,Ann,1\n", age=1)
    source = FilesSource([csv_spec(drops)], tmp_path / "store", check_interval=0.05)
    try:
        drop(drops, "cust-2.csv", "NO,NAME,QTY\nA,Ann,7\n", age=2)
        deadline = time.monotonic() + 20
        while rows(source) != [("A", "Ann", 7)] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rows(source) == [("A", "Ann", 7)]
    finally:
        source.close()


def test_tables_of_one_source_join_in_one_database(tmp_path, drops):
    copybook = tmp_path / "ACCOUNTS.cpy"
    copybook.write_text(ACCOUNTS_COPYBOOK)
    drop(drops / "cust", "cust.csv", "NO,NAME,QTY\nAAAA01,Ann,1\nAAAA02,Bob,2\n", age=1)
    drop(drops / "acct", "acct.dat", account("AAAA01", "-12.34") + account("AAAA03", "5.00"), age=1)
    source = open_source(
        tmp_path, csv_spec(drops / "cust"), accounts_spec(drops / "acct", copybook)
    )
    try:
        from decimal import Decimal

        from legacy_adapters.base import Related

        owning = Related(("NO",), TableRef("ACCOUNTS"), ("ACCT-NO",))
        assert source.select(Select(CUST, ("NO",), (owning,))) == [("AAAA01",)]
        accounts = source.select(Select(TableRef("ACCOUNTS"), ("ACCT-NO", "BALANCE")))
        assert sorted(accounts) == [("AAAA01", Decimal("-12.34")), ("AAAA03", Decimal("5.00"))]
        drop(drops / "cust", "cust2.csv", "NO,NAME,QTY\nAAAA01,Ann,1\nAAAA03,Cy,3\n", age=2)
        source.refresh()  # the accounts are carried over into the new generation
        assert sorted(source.select(Select(CUST, ("NO",), (owning,)))) == [("AAAA01",), ("AAAA03",)]
        assert source.changes("ACCOUNTS") == generations.Changes([], [], [])
    finally:
        source.close()


def test_columns_that_cannot_be_empty_are_not_null_so_sorts_use_the_index(tmp_path, drops):
    copybook = tmp_path / "ACCOUNTS.cpy"
    copybook.write_text(ACCOUNTS_COPYBOOK)
    drop(drops / "acct", "acct.dat", account("AAAA01", "1.00"), age=1)
    drop(drops / "cust", "cust.csv", "NO,NAME,QTY\nA,Ann,\n", age=1)
    source = open_source(
        tmp_path, accounts_spec(drops / "acct", copybook), csv_spec(drops / "cust")
    )
    try:
        schema = source.reflect()
        nullable = {(t.ref.name, c.name): c.nullable for t in schema.tables for c in t.columns}
        assert nullable == {
            ("ACCOUNTS", "ACCT-NO"): False,
            ("ACCOUNTS", "BALANCE"): False,  # a packed field always holds a number
            ("CUST", "NO"): False,
            ("CUST", "NAME"): False,  # an empty CSV text field is ""
            ("CUST", "QTY"): True,  # an empty integer field is null
        }
        assert rows(source) == [("A", "Ann", None)]
    finally:
        source.close()


def test_changes_with_a_composite_key(tmp_path, drops):
    spec = ExportConfig(table="LINES", path=f"{drops}/", format="csv", key=("NO", "LINE"))
    drop(drops, "l1.csv", "NO,LINE,QTY\nA,1,5\nA,2,6\nB,1,7\n", age=1)
    source = open_source(tmp_path, spec)
    try:
        drop(drops, "l2.csv", "NO,LINE,QTY\nA,1,5\nA,2,9\nB,2,7\n", age=2)
        source.refresh()
        diff = source.changes("LINES")
        assert (diff.created, diff.updated, diff.deleted) == ([("B", 2)], [("A", 2)], [("B", 1)])
    finally:
        source.close()


def test_a_process_still_on_an_older_generation_keeps_reading_it(tmp_path, drops):
    """One process switches through several exports between two looks of another:
    the file the other still reads stays until it could have switched."""
    drop(drops, "cust-1.csv", "NO,NAME,QTY\nA,Ann,1\n", age=1)
    spec = csv_spec(drops)
    first = FilesSource([spec], tmp_path / "store", check_interval=3600)
    second = FilesSource([spec], tmp_path / "store", check_interval=3600)
    try:
        for k in (2, 3, 4):
            drop(drops, f"cust-{k}.csv", f"NO,NAME,QTY\nA,Ann,{k}\n", age=k)
            first.refresh()
        assert rows(first) == [("A", "Ann", 4)]
        second._current.sql.engine.dispose()  # new connections to its (old) file
        assert rows(second) == [("A", "Ann", 1)]
        second.refresh()
        assert rows(second) == [("A", "Ann", 4)]
    finally:
        first.close()
        second.close()


def test_a_generation_lacking_a_table_it_lists_is_not_switched_to(tmp_path, drops):
    """A generation file another process (or a copy) left that does not hold what its
    `lw_exports` says: reads stay on the generation serving, the next export loads."""
    drop(drops, "cust-1.csv", "NO,NAME,QTY\nA,Ann,1\n", age=1)
    source = open_source(tmp_path, csv_spec(drops))
    try:
        store = tmp_path / "store"
        broken = generations.generation_path(store, 2)
        broken.write_bytes(generations.generation_path(store, 1).read_bytes())
        with sqlite3.connect(broken) as conn:
            conn.execute('DROP TABLE "CUST"')
        source.refresh()
        assert rows(source) == [("A", "Ann", 1)]
        drop(drops, "cust-2.csv", "NO,NAME,QTY\nB,Bob,2\n", age=2)
        source.refresh()
        assert rows(source) == [("B", "Bob", 2)]
        assert source.status()["generation"] == 3
    finally:
        source.close()
