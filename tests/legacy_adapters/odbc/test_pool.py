"""The connection pool and the statement deadlines, on stand-in connections
(their logic needs no database; the real drivers are exercised elsewhere)."""

from __future__ import annotations

import threading

import pytest

from legacy_adapters.odbc.deadline import Watchdog
from legacy_adapters.odbc.pool import Pool, PoolTimeout


class Cursor:
    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.closed = False

    def cancel(self) -> None:
        self.cancelled.set()

    def close(self) -> None:
        self.closed = True


class Connection:
    made = 0

    def __init__(self) -> None:
        Connection.made += 1
        self.closed = False

    def cursor(self) -> Cursor:
        return Cursor()

    def close(self) -> None:
        self.closed = True


def test_the_pool_is_bounded_and_reuses_connections() -> None:
    pool = Pool(Connection, size=2, timeout=0.05)
    a, b = pool.checkout(), pool.checkout()
    assert pool.busy() == 2
    with pytest.raises(PoolTimeout):
        pool.checkout()
    pool.checkin(a)
    assert pool.checkout() is a
    pool.checkin(a)
    pool.checkin(b)
    assert pool.busy() == 0


def test_a_discarded_connection_is_closed_and_its_slot_freed() -> None:
    pool = Pool(Connection, size=1, timeout=0.05)
    handle = pool.checkout()
    handle.discard()
    pool.checkin(handle)
    assert handle.connection.closed and handle.cursor.closed
    fresh = pool.checkout()
    assert fresh is not handle and not fresh.broken


def test_a_failed_connect_frees_its_slot() -> None:
    def refuse() -> Connection:
        raise ConnectionError("no server")

    pool = Pool(refuse, size=1, timeout=0.05)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            pool.checkout()
    assert pool.busy() == 0


def test_a_late_statement_is_cancelled_and_a_finished_one_never() -> None:
    watchdog = Watchdog(0.1)
    try:
        finished, late = Cursor(), Cursor()
        deadline = watchdog.arm(finished)
        assert watchdog.disarm(deadline) is False
        deadline = watchdog.arm(late)
        assert late.cancelled.wait(5)
        assert watchdog.disarm(deadline) is True
        assert not finished.cancelled.is_set()
    finally:
        watchdog.close()
