"""Statement deadlines: a statement still running when its time is up is
cancelled with SQLCancel (pyodbc's `cursor.cancel()`).

ODBC's SQL_ATTR_QUERY_TIMEOUT is honoured by some drivers only (pyodbc sets
it through SQL_ATTR_CONNECTION_TIMEOUT first, which the PostgreSQL driver
refuses; the MariaDB driver accepts it and ignores it; the SQLite driver
ignores it), while SQLCancel works on all three: every source keeps its own
deadlines. One watcher thread per source serves them all. Arming a deadline
appends it to a queue (every deadline of a source has the same length, so
the queue stays in order) and disarming marks it done: no lock is contended
and no thread is woken per statement. The watcher looks at the queue every
`tick` seconds, so a statement is cancelled at most a tick after its time.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any


class Deadline:
    __slots__ = ("at", "cancelled", "cursor", "done", "fired")

    def __init__(self, at: float, cursor: Any) -> None:
        self.at = at
        self.cursor = cursor
        self.done = False
        self.fired = False
        self.cancelled: threading.Event | None = None


class Watchdog:
    """Cancels statements that run past `seconds`."""

    def __init__(self, seconds: float, name: str = "odbc-deadlines") -> None:
        self.seconds = seconds
        self.tick = min(0.05, seconds / 10)
        self._queue: collections.deque[Deadline] = collections.deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def arm(self, cursor: Any) -> Deadline:
        deadline = Deadline(time.monotonic() + self.seconds, cursor)
        self._queue.append(deadline)
        return deadline

    def disarm(self, deadline: Deadline) -> bool:
        """Ends the watch; True when the statement was cancelled for running late.
        Returns only once no cancel can touch the cursor any more."""
        with self._lock:
            deadline.done = True
            cancelling = deadline.cancelled
        if cancelling is not None:
            cancelling.wait()
        deadline.cursor = None
        return deadline.fired

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        queue = self._queue
        while not self._stop.wait(self.tick):
            now = time.monotonic()
            while queue:
                head = queue[0]
                if not head.done and head.at > now:
                    break
                queue.popleft()
                with self._lock:
                    if head.done:
                        continue
                    head.fired = True
                    head.cancelled = threading.Event()
                try:
                    head.cursor.cancel()
                except Exception:  # the statement ended meanwhile, or the link is gone
                    pass
                finally:
                    head.cancelled.set()
