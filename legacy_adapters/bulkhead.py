"""A bulkhead around any `Source`: at most K queries run against the legacy
database at once (per process); further callers wait up to `wait` seconds for
a slot and then fail with `SourceBusy`, which the facade answers with 503 and
`Retry-After`, instead of piling up on the pool and the legacy server.

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
        self, inner: Source, size: int, wait: float, observer: QueryObserver | None = None
    ) -> None:
        if size < 1:
            raise ValueError("a bulkhead needs at least one slot")
        self.inner = inner
        self.size = size
        self.wait = wait
        self.observer: QueryObserver = observer or _Silent()
        # A slot is a token in a queue: taking and giving one back are C calls
        # (0.14 us; a threading.Semaphore's Condition took 1.2 us a query).
        self._slots: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(size):
            self._slots.put(None)
        self.dialect = inner.dialect
        self.capabilities = inner.capabilities
        self._unreflected: tuple[TableRef, ...] = ()  # reflection put off by an outage
        self._reflecting = threading.Lock()

    @contextmanager
    def _slot(self, kind: str) -> Iterator[None]:
        start = self._acquire()
        failed = True
        try:
            yield
            failed = False
        finally:
            self._release(kind, start, failed)

    def _acquire(self) -> float:
        try:
            self._slots.get(timeout=self.wait)
        except queue.Empty:
            self.observer.rejected()
            raise SourceBusy(
                f"{self.size} legacy queries already running; none finished in time"
            ) from None
        return time.perf_counter()

    def _release(self, kind: str, start: float, failed: bool) -> None:
        self._slots.put(None)
        self.observer.query(kind, time.perf_counter() - start, failed)

    def _run(self, kind: str, call: Callable[[], Any]) -> Any:
        start = self._acquire()  # `_slot` without a generator: this runs on every query
        failed = True
        try:
            if self._unreflected:
                self._reflect_put_off()
            result = call()
            failed = False
            return result
        finally:
            self._release(kind, start, failed)

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
