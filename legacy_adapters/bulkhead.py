"""A bulkhead around any `Source`: at most K queries run against the legacy
database at once (per process); further callers wait up to `wait` seconds for
a slot and then fail with `SourceBusy`, which the facade answers with 503 and
`Retry-After`, instead of piling up on the pool and the legacy server.

A caller that finds every slot held by a query that has run for more than
`busy_after` seconds fails at once (one already waiting, the moment that becomes
true): a legacy database that has stopped answering is not sent more work, and
the thread is free again for `/livez`, the documents and cached pages after at
most `busy_after` seconds rather than the whole wait.

Selects and counts take a slot. Reflection (once, at start) and `ping` do not:
a readiness probe must not fail because the instance is busy, only when the
legacy database is gone.

A reflection that fails because the source is unreachable (the facade then
starts from a saved copy of the schema, `wrapper.schema_cache`) is done again
by the first query, once, before it reaches the source: the adapter gets its
tables, and the service recovers by itself when the database is back.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from legacy_adapters.base import (
    ReportsStatus,
    Schema,
    Select,
    Source,
    SourceBusy,
    SourceUnavailable,
    TableRef,
)


class QueryObserver(Protocol):
    """Told about each guarded query (metrics live outside the adapter layer)."""

    def query(self, kind: str, seconds: float, failed: bool) -> None: ...

    def rejected(self) -> None: ...


class _Silent:
    def query(self, kind: str, seconds: float, failed: bool) -> None:
        pass

    def rejected(self) -> None:
        pass


class Bulkhead:
    """A `Source` that lets at most `size` queries reach `inner` at once."""

    def __init__(
        self,
        inner: Source,
        size: int,
        wait: float,
        observer: QueryObserver | None = None,
        busy_after: float | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a bulkhead needs at least one slot")
        self.inner = inner
        self.size = size
        self.wait = wait
        self.busy_after = busy_after  # None: callers wait the whole `wait`
        self.observer: QueryObserver = observer or _Silent()
        # A slot is a token in a queue: taking and giving one back are C calls
        # (0.14 us; a threading.Semaphore's Condition took 1.2 us a query).
        self._slots: queue.SimpleQueue[int] = queue.SimpleQueue()
        for slot in range(size):
            self._slots.put(slot)
        self._since = [0.0] * size  # when the query holding each slot began
        self.dialect = inner.dialect
        self.capabilities = inner.capabilities
        self._unreflected: tuple[TableRef, ...] = ()  # reflection put off by an outage
        self._reflecting = threading.Lock()

    @contextmanager
    def _slot(self, kind: str) -> Iterator[None]:
        slot = self._acquire()
        failed = True
        try:
            yield
            failed = False
        finally:
            self._release(kind, slot, failed)

    def _acquire(self) -> int:
        try:
            slot = self._slots.get_nowait()
        except queue.Empty:
            slot = self._wait_for_slot()
        self._since[slot] = time.perf_counter()
        return slot

    def _wait_for_slot(self) -> int:
        deadline = time.perf_counter() + self.wait
        while True:
            now = time.perf_counter()
            timeout = deadline - now
            if self.busy_after is not None:
                # Every slot is taken, so every entry is a running query's start
                # (one freed meanwhile is found by the last try below).
                overdue_in = max(self._since) + self.busy_after - now
                if overdue_in <= 0:
                    running = "query" if self.size == 1 else f"{self.size} queries"
                    return self._last_try(
                        f"the legacy database has not answered the {running} "
                        f"running for over {self.busy_after:g} s"
                    )
                timeout = min(timeout, overdue_in)
            if timeout <= 0:
                return self._last_try(
                    f"{self.size} legacy queries already running; none finished in time"
                )
            try:
                return self._slots.get(timeout=timeout)
            except queue.Empty:
                pass

    def _last_try(self, refusal: str) -> int:
        try:
            return self._slots.get_nowait()
        except queue.Empty:
            self.observer.rejected()
            raise SourceBusy(refusal) from None

    def _release(self, kind: str, slot: int, failed: bool) -> None:
        seconds = time.perf_counter() - self._since[slot]
        self._slots.put(slot)
        self.observer.query(kind, seconds, failed)

    def _run(self, kind: str, call: Callable[[], Any]) -> Any:
        slot = self._acquire()  # `_slot` without a generator: this runs on every query
        failed = True
        try:
            if self._unreflected:
                self._reflect_put_off()
            result = call()
            failed = False
            return result
        finally:
            self._release(kind, slot, failed)

    def reflect(
        self, tables: Iterable[TableRef] | None = None, schemas: Sequence[str | None] = (None,)
    ) -> Schema:
        tables = None if tables is None else tuple(tables)
        try:
            schema = self.inner.reflect(tables, schemas)
        except SourceUnavailable:
            self._unreflected = tables or ()
            raise
        self._unreflected = ()
        return schema

    def _reflect_put_off(self) -> None:
        with self._reflecting:
            if self._unreflected:
                self.inner.reflect(self._unreflected)  # SourceUnavailable: a 503, tried again
                self._unreflected = ()

    def select(self, query: Select) -> list[tuple[Any, ...]]:
        return self._run("select", lambda: self.inner.select(query))

    def count(self, query: Select, estimate: bool = False) -> tuple[int, bool]:
        return self._run("count", lambda: self.inner.count(query, estimate))

    def ping(self) -> None:
        self.inner.ping()

    def status(self) -> dict[str, Any] | None:
        """The inner source's own state (`ReportsStatus`), if it has one."""
        return self.inner.status() if isinstance(self.inner, ReportsStatus) else None

    def close(self) -> None:
        self.inner.close()


__all__ = ["Bulkhead", "QueryObserver"]
