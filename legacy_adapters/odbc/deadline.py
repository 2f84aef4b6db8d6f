"""Statement deadlines: a statement still running when its time is up is
cancelled with SQLCancel (pyodbc's `cursor.cancel()`).

ODBC's SQL_ATTR_QUERY_TIMEOUT is honoured by some drivers only (not by the
SQLite, PostgreSQL and MariaDB drivers tested here), so every source keeps
its own deadlines. One watcher thread per source serves them all: arming a
deadline appends to a queue (every deadline of a source is the same length,
so the queue stays in order) and disarming marks it done; nothing is
created per statement.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any


class Deadline:
    __slots__ = ("at", "cancelling", "cursor", "done", "fired")

    def __init__(self, at: float, cursor: Any) -> None:
        self.at = at
        self.cursor = cursor
        self.done = False
        self.fired = False
        self.cancelling = False


class Watchdog:
    """Cancels statements that run past `seconds`."""

    def __init__(self, seconds: float, name: str = "odbc-deadlines") -> None:
        self.seconds = seconds
        self._queue: collections.deque[Deadline] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def arm(self, cursor: Any) -> Deadline:
        deadline = Deadline(time.monotonic() + self.seconds, cursor)
        with self._cond:
            self._queue.append(deadline)
            if len(self._queue) == 1:
                self._cond.notify()
        return deadline

    def disarm(self, deadline: Deadline) -> bool:
        """Ends the watch; True when the statement was cancelled for running late."""
        with self._cond:
            deadline.done = True
            # Never let the caller close the cursor while SQLCancel is using it.
            while deadline.cancelling:
                self._cond.wait()
            deadline.cursor = None
            return deadline.fired

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                while self._queue and self._queue[0].done:
                    self._queue.popleft()
                if not self._queue:
                    self._cond.wait()
                    continue
                head = self._queue[0]
                wait = head.at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                self._queue.popleft()
                head.fired = head.cancelling = True
                cursor = head.cursor
                self._cond.release()  # a cancel may take a round trip: others go on
                try:
                    cursor.cancel()
                except Exception:  # the statement ended meanwhile, or the link is gone
                    pass
                finally:
                    self._cond.acquire()
                    head.cancelling = False
                    self._cond.notify_all()
