"""A bounded pool of ODBC connections, each with the one cursor it runs on.

At most `size` connections exist at once; a caller waits up to `timeout`
seconds for one and then gets `PoolTimeout` (the source turns it into
`SourceTimeout`). Idle connections are reused newest first, so a quiet
source keeps few busy ones warm. A connection whose link broke is discarded
(`Handle.discard`), which frees its slot for a new one.

Small on purpose: a checkout is a semaphore and a list pop, a fraction of
what a general-purpose pool costs per query, which matters when the query
itself takes a tenth of a millisecond.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any


class PoolTimeout(Exception):
    """No connection became free in time."""


class Handle:
    """A pooled connection and its cursor."""

    __slots__ = ("broken", "connection", "cursor", "sized")

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.cursor = connection.cursor()
        self.sized = False  # input sizes are set on the cursor (they persist across executes)
        self.broken = False

    def discard(self) -> None:
        """Never give this connection out again (closed when it is returned)."""
        self.broken = True

    def close(self) -> None:
        with suppress(Exception):
            self.cursor.close()
        with suppress(Exception):
            self.connection.close()


class Pool:
    def __init__(self, connect: Callable[[], Any], size: int, timeout: float) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one connection")
        self.size = size
        self.timeout = timeout
        self._connect = connect
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[Handle] = []
        self._lock = threading.Lock()
        self._busy = 0

    def checkout(self) -> Handle:
        if not self._slots.acquire(timeout=self.timeout):
            raise PoolTimeout(f"all {self.size} connections stayed busy for {self.timeout:g} s")
        try:
            with self._lock:
                handle = self._idle.pop() if self._idle else None
                self._busy += 1
            return handle if handle is not None else Handle(self._connect())
        except BaseException:
            with self._lock:
                self._busy -= 1
            self._slots.release()
            raise

    def checkin(self, handle: Handle) -> None:
        if handle.broken:
            handle.close()
        else:
            with self._lock:
                self._idle.append(handle)
        with self._lock:
            self._busy -= 1
        self._slots.release()

    def busy(self) -> int:
        """Connections checked out right now."""
        return self._busy

    def dispose(self) -> None:
        """Close the idle connections (busy ones close when they come back broken)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for handle in idle:
            handle.close()
