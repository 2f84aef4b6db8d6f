"""Creating the wrapper's own tables when several processes start at once.

Workers starting together on a new state database race between looking for a
table and creating it (`table ... already exists`), or between switching a new
SQLite file to WAL; the loser tries again, after a short random pause, and
finds it done.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa

T = TypeVar("T")


def raced(err: sa.exc.DBAPIError) -> bool:
    """Whether `err` says another process created the same thing first."""
    told = str(err.orig)  # SQLite, MariaDB: "already exists"; PostgreSQL: 42P07, 23505
    return any(s in told for s in ("already exists", "duplicate key", "duplicate column"))


def again_after_pause(
    action: Callable[[], T], lost: Callable[[Exception], bool], attempts: int = 5
) -> T:
    """`action()`, done again after a pause of 20-100 ms while it fails with an
    error that `lost` says another process caused (at most `attempts` times)."""
    for _ in range(attempts - 1):
        try:
            return action()
        except Exception as err:
            if not lost(err):
                raise
            time.sleep(random.uniform(0.02, 0.1))
    return action()


def create_missing(engine: sa.Engine, metadata: sa.MetaData) -> None:
    """Create the tables of `metadata` that `engine`'s database lacks."""
    again_after_pause(
        lambda: metadata.create_all(engine),
        lambda err: isinstance(err, sa.exc.DBAPIError) and raced(err),
    )


__all__ = ["again_after_pause", "create_missing", "raced"]
