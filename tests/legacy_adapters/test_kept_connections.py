"""A serving thread keeps its pooled connection between reads where a read leaves
nothing open on it (SQLite, PostgreSQL in autocommit), without starving the
other uses of the pool, and without losing what a checkout did: the SQLite
read deadline, a replaced SQLite file, a connection the server dropped."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from legacy_adapters.base import Condition, Select, TableRef
from legacy_adapters.sql import SQLAlchemySource
from legacy_adapters.sql.source import FILE_CHECK_SECONDS

JOBS = Select(TableRef("JOBSCHED"), ("JOB_NO",), limit=3)
KEEPS = {"sqlite": True, "postgresql": True, "mariadb": False}  # MariaDB reads hold a snapshot


def _checkouts(source: SQLAlchemySource) -> list[int]:
    seen: list[int] = []
    event.listen(source.engine, "checkout", lambda *_: seen.append(1))
    return seen


@pytest.fixture
def source(demo_url: str) -> Iterator[SQLAlchemySource]:
    src = SQLAlchemySource(demo_url, pool_size=2, pool_timeout=1)
    src.reflect(tables=[TableRef("JOBSCHED")])
    yield src
    src.close()


def test_a_thread_reads_on_one_connection(source: SQLAlchemySource, backend: str) -> None:
    checkouts = _checkouts(source)
    for _ in range(20):
        assert len(source.select(JOBS)) == 3
    assert len(checkouts) == (1 if KEEPS[backend] else 20)


def test_other_uses_of_the_pool_are_not_starved(source: SQLAlchemySource) -> None:
    """pool_size 2: one thread keeps a connection; other threads' reads, counts and
    probes still get the other one, again and again (a pool timeout of 1 s would
    fail them otherwise)."""
    assert len(source.select(JOBS)) == 3  # this thread keeps one where it may
    results: dict[int, list[object]] = {0: [], 1: []}

    def other(mine: list[object]) -> None:
        try:
            for _ in range(5):
                mine.append(len(source.select(JOBS)))
                mine.append(source.count(JOBS)[0] > 0)
                source.ping()
        except Exception as err:  # reported below
            mine.append(err)

    threads = [threading.Thread(target=other, args=(results[i],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {0: [3, True] * 5, 1: [3, True] * 5}


def test_an_ended_thread_gives_its_connection_back(source: SQLAlchemySource) -> None:
    def read() -> None:
        assert len(source.select(JOBS)) == 3

    for _ in range(4):  # more threads than the pool has connections
        thread = threading.Thread(target=read)
        thread.start()
        thread.join(30)
        gc.collect()
    assert source.engine.pool.checkedout() == 0


def test_a_dropped_connection_costs_no_failed_read(
    source: SQLAlchemySource, backend: str, demo_url: str
) -> None:
    if backend != "postgresql":
        pytest.skip("ends the server side of a kept PostgreSQL connection")
    assert len(source.select(JOBS)) == 3
    admin = sa.create_engine(demo_url, poolclass=sa.NullPool)
    with admin.connect() as conn:
        ended = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    admin.dispose()
    assert ended >= 1
    assert len(source.select(JOBS)) == 3  # read again once on a fresh connection


def _numbers(path: Path, rows: int, offset: int = 0) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE N (K INTEGER PRIMARY KEY, V INTEGER)")
        conn.executemany("INSERT INTO N VALUES (?, ?)", ((k, k + offset) for k in range(rows)))
    conn.close()


def test_a_kept_sqlite_connection_is_bounded_on_every_read(tmp_path: Path) -> None:
    """The read deadline is armed per read, not only when the connection left the
    pool: the second read, after longer than the timeout, is not interrupted."""
    path = tmp_path / "n.db"
    _numbers(path, 20_000)
    source = SQLAlchemySource(f"sqlite:///{path}", statement_timeout=0.2)
    try:
        source.reflect(tables=[TableRef("N")])
        scan = Select(TableRef("N"), ("K",), where=(Condition("V", "eq", 19_999),))
        checkouts = _checkouts(source)
        assert source.select(scan) == [(19_999,)]
        time.sleep(0.3)
        assert source.select(scan) == [(19_999,)]  # a full scan: the progress handler runs
        assert len(checkouts) == 1
    finally:
        source.close()


def test_a_replaced_sqlite_file_is_read_by_kept_connections(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    _numbers(path, 3)
    source = SQLAlchemySource(f"sqlite:///{path}")
    try:
        source.reflect(tables=[TableRef("N")])
        page = Select(TableRef("N"), ("V",), limit=1)
        assert source.select(page) == [(0,)]
        fresh = tmp_path / "fresh.db"
        _numbers(fresh, 3, offset=100)
        fresh.replace(path)
        time.sleep(FILE_CHECK_SECONDS)  # reads look at the file this often
        assert source.select(page) == [(100,)]
    finally:
        source.close()


def test_a_failed_read_leaves_the_next_one_working(tmp_path: Path) -> None:
    """A read the database refuses (its table gone) closes the connection's reused
    cursor; the next read, once the table is back, is answered."""
    from legacy_adapters.base import QueryRejected

    path = tmp_path / "n.db"
    _numbers(path, 3)
    source = SQLAlchemySource(f"sqlite:///{path}", read_only=False)
    try:
        source.reflect(tables=[TableRef("N")])
        page = Select(TableRef("N"), ("V",), limit=1)
        assert source.select(page) == [(0,)]
        with sqlite3.connect(path) as conn:
            conn.execute("ALTER TABLE N RENAME TO M")
        with pytest.raises(QueryRejected):
            source.select(page)
        with sqlite3.connect(path) as conn:
            conn.execute("ALTER TABLE M RENAME TO N")
        assert source.select(page) == [(0,)]
    finally:
        source.close()
