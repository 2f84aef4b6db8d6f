"""The state database is created by whichever worker starts first: workers that
start at once on a new database all open it (none dies on `already exists`)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from fixtures.databases import temporary_database
from wrapper.state.store import StateStore

WORKERS = 6


def _open(
    url: str, start: multiprocessing.synchronize.Barrier, failures: multiprocessing.Queue
) -> None:  # type: ignore[name-defined]
    start.wait(30)
    try:
        StateStore(url).close()
    except Exception as err:  # reported to the test
        failures.put(repr(err))


def test_workers_starting_at_once_all_open_a_new_state_database(
    backend: str, tmp_path: Path
) -> None:
    context = multiprocessing.get_context("fork")
    for round_no in range(3):
        folder = tmp_path / str(round_no)
        folder.mkdir()
        with temporary_database(backend, folder) as url:
            start, failures = context.Barrier(WORKERS), context.Queue()
            workers = [
                context.Process(target=_open, args=(url, start, failures)) for _ in range(WORKERS)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(60)
            assert [w.exitcode for w in workers] == [0] * WORKERS
            assert failures.empty(), failures.get()
            store = StateStore(url)  # and the tables are all there
            assert store.clients() == []
            store.close()
