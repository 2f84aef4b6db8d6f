"""The bulkhead: at most K queries at once; the next caller waits, then gets SourceBusy."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from legacy_adapters.base import Capabilities, Select, SourceBusy, TableRef
from legacy_adapters.bulkhead import Bulkhead

QUERY = Select(TableRef("T"), ("A",))


class _GatedSource:
    """A source whose queries block until the test opens the gate."""

    dialect = "fake"
    capabilities = Capabilities()

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.running = 0
        self.peak = 0
        self._lock = threading.Lock()

    def select(self, query: Select) -> list[tuple[Any, ...]]:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.gate.wait(5)
        with self._lock:
            self.running -= 1
        return [(1,)]

    def ping(self) -> None:
        pass


class _Observer:
    def __init__(self) -> None:
        self.queries: list[tuple[str, bool]] = []
        self.rejections = 0

    def query(self, kind: str, seconds: float, failed: bool) -> None:
        self.queries.append((kind, failed))

    def rejected(self) -> None:
        self.rejections += 1


def test_at_most_k_queries_run_and_the_next_caller_is_refused_in_time() -> None:
    inner, observer = _GatedSource(), _Observer()
    bulkhead = Bulkhead(inner, size=2, wait=0.2, observer=observer)  # type: ignore[arg-type]
    threads = [threading.Thread(target=bulkhead.select, args=(QUERY,)) for _ in range(2)]
    for t in threads:
        t.start()
    while inner.running < 2:
        time.sleep(0.01)
    start = time.monotonic()
    with pytest.raises(SourceBusy):
        bulkhead.select(QUERY)
    assert 0.15 < time.monotonic() - start < 2
    assert observer.rejections == 1
    bulkhead.ping()  # probes never wait for a slot
    inner.gate.set()
    for t in threads:
        t.join(5)
    assert inner.peak == 2
    assert bulkhead.select(QUERY) == [(1,)]  # recovered
    assert observer.queries == [("select", False)] * 3


def test_a_waiting_caller_gets_the_slot_that_frees_up() -> None:
    inner = _GatedSource()
    bulkhead = Bulkhead(inner, size=1, wait=3)  # type: ignore[arg-type]
    first = threading.Thread(target=bulkhead.select, args=(QUERY,))
    first.start()
    while inner.running < 1:
        time.sleep(0.01)
    threading.Timer(0.2, inner.gate.set).start()
    assert bulkhead.select(QUERY) == [(1,)]
    first.join(5)
    assert inner.peak == 1


def _hold(bulkhead: Bulkhead, inner: _GatedSource, count: int) -> list[threading.Thread]:
    """`count` queries running (blocked in the source) through `bulkhead`."""
    threads = [threading.Thread(target=bulkhead.select, args=(QUERY,)) for _ in range(count)]
    for t in threads:
        t.start()
    while inner.running < count:
        time.sleep(0.01)
    return threads


def test_a_caller_stops_waiting_once_every_running_query_is_overdue() -> None:
    inner, observer = _GatedSource(), _Observer()
    bulkhead = Bulkhead(inner, size=2, wait=30, observer=observer, busy_after=0.5)  # type: ignore[arg-type]
    held = _hold(bulkhead, inner, 2)
    start = time.monotonic()
    with pytest.raises(SourceBusy, match=r"has not answered the 2 queries running for over 0\.5 s"):
        bulkhead.select(QUERY)  # waits until the younger query is 0.5 s old, not 30 s
    assert 0.3 < time.monotonic() - start < 5
    start = time.monotonic()
    with pytest.raises(SourceBusy):
        bulkhead.select(QUERY)  # the database is still not answering: refused at once
    assert time.monotonic() - start < 0.3
    assert observer.rejections == 2
    inner.gate.set()
    for t in held:
        t.join(5)
    assert bulkhead.select(QUERY) == [(1,)]  # answering again: served


def test_a_query_finishing_before_it_is_overdue_gives_the_waiter_its_slot() -> None:
    inner = _GatedSource()
    bulkhead = Bulkhead(inner, size=1, wait=30, busy_after=3)  # type: ignore[arg-type]
    held = _hold(bulkhead, inner, 1)
    threading.Timer(0.3, inner.gate.set).start()
    assert bulkhead.select(QUERY) == [(1,)]
    held[0].join(5)


def test_one_young_query_among_overdue_ones_keeps_callers_waiting() -> None:
    inner = _GatedSource()
    bulkhead = Bulkhead(inner, size=2, wait=30, busy_after=1)  # type: ignore[arg-type]
    held = _hold(bulkhead, inner, 1)
    time.sleep(1.2)  # the first query is overdue; a second, young one starts
    held += _hold(bulkhead, inner, 2)
    threading.Timer(0.3, inner.gate.set).start()  # before the young one is overdue
    assert bulkhead.select(QUERY) == [(1,)]
    for t in held:
        t.join(5)
