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
