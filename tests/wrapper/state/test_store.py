"""The state database is created by whichever worker starts first: workers that
start at once on a new database all open it (none dies on `already exists`), for
the store's tables and for the events' (outbox, deliveries, capture)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.databases import temporary_database
from wrapper.events import tables
from wrapper.state.store import StateStore
from wrapper.state.store import metadata as store_tables

WORKERS = 6


def _open_store(url: str) -> None:
    StateStore(url).close()


def _open_events(url: str) -> None:
    tables.connect(url).dispose()


def _open(
    opener, url: str, start: multiprocessing.synchronize.Barrier, failures: multiprocessing.Queue
) -> None:  # type: ignore[name-defined]
    start.wait(30)
    try:
        opener(url)
    except Exception as err:  # reported to the test
        failures.put(repr(err))


@pytest.mark.parametrize("opener", [_open_store, _open_events], ids=["store", "events"])
def test_workers_starting_at_once_all_open_a_new_state_database(
    backend: str, tmp_path: Path, opener
) -> None:
    if backend == "mariadb" and opener is _open_events:
        pytest.skip(
            "the state database is SQLite or PostgreSQL (README); on MariaDB an index "
            "of the events' tables is longer than its 3072-byte limit"
        )
    context = multiprocessing.get_context("fork")
    for round_no in range(3):
        folder = tmp_path / str(round_no)
        folder.mkdir()
        with temporary_database(backend, folder) as url:
            start, failures = context.Barrier(WORKERS), context.Queue()
            workers = [
                context.Process(target=_open, args=(opener, url, start, failures))
                for _ in range(WORKERS)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(60)
            assert [w.exitcode for w in workers] == [0] * WORKERS
            assert failures.empty(), failures.get()
            engine = sa.create_engine(url)  # and the tables are all there
            try:
                have = set(sa.inspect(engine).get_table_names())
            finally:
                engine.dispose()
            wanted = (store_tables if opener is _open_store else tables.metadata).tables
            assert set(wanted) <= have
