"""A pooled connection kept by each serving thread between reads.

Checking a DBAPI connection out of SQLAlchemy's pool and back in (events,
the reset on return, the pool's locks) costs more than an indexed SQLite read
itself. Where a read leaves nothing behind on its connection (SQLite outside a
transaction, PostgreSQL in autocommit), each thread keeps the connection of
its last read for the next one, up to `limit` threads: the rest, and every
other use of the engine (counts, probes, reflection), check out from the pool
as before, so the pool always has `pool_size - limit` connections for them.

A kept connection goes back to the pool when a read on it fails (a connection
the dialect saw as lost was invalidated first, so the pool drops it) and, after
`renew()` (the pool was disposed: a replaced SQLite file), at its thread's next
read. The per-checkout arming of a read's deadline is done again per read
(`lw_rearm` in the connection's info, set by the backend).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any


class _Kept:
    """One thread's connection; given back when the thread ends (its locals go)."""

    def __init__(self, owner: KeptConnections, raw: Any, epoch: int) -> None:
        self.owner, self.raw, self.epoch = owner, raw, epoch

    def release(self) -> None:
        raw, self.raw = self.raw, None
        if raw is None:
            return
        with self.owner._lock:
            self.owner._count -= 1
        with contextlib.suppress(Exception):  # a broken connection: the pool forgets it
            raw.close()

    def __del__(self) -> None:
        self.release()


class KeptConnections:
    def __init__(self, checkout: Callable[[], Any], limit: int) -> None:
        self._checkout = checkout
        self.limit = limit
        self._local = threading.local()
        self._epoch = 0
        self._count = 0  # threads keeping one
        self._lock = threading.Lock()

    def get(self) -> Any | None:
        """This thread's connection, armed for one read; None when it may not keep one
        (the caller then checks one out of the pool and returns it after the read)."""
        kept: _Kept | None = getattr(self._local, "kept", None)
        if kept is not None:
            raw = kept.raw
            if kept.epoch == self._epoch and raw is not None and raw.is_valid:
                rearm = raw.info.get("lw_rearm")
                if rearm is not None:
                    rearm()
                return raw
            self.drop()
        if not self.limit:
            return None
        with self._lock:
            if self._count >= self.limit:
                return None
            self._count += 1
        try:
            raw = self._checkout()  # armed by the pool's checkout event
        except BaseException:
            with self._lock:
                self._count -= 1
            raise
        self._local.kept = _Kept(self, raw, self._epoch)
        return raw

    def drop(self) -> None:
        """Give this thread's connection back to the pool."""
        kept = getattr(self._local, "kept", None)
        if kept is not None:
            self._local.kept = None
            kept.release()

    def renew(self) -> None:
        """Every kept connection goes back at its thread's next read."""
        self._epoch += 1
