"""Creating the wrapper's own tables when several processes start at once.

Workers starting together on a new state database race between looking for a
table and creating it (`table ... already exists`); the loser looks again,
after a short random pause, and finds it.
"""

from __future__ import annotations

import random
import time

import sqlalchemy as sa


def raced(err: sa.exc.DBAPIError) -> bool:
    """Whether `err` says another process created the same thing first."""
    told = str(err.orig)  # SQLite, MariaDB: "already exists"; PostgreSQL: 42P07, 23505
    return any(s in told for s in ("already exists", "duplicate key", "duplicate column"))


def create_missing(engine: sa.Engine, metadata: sa.MetaData, attempts: int = 5) -> None:
    """Create the tables of `metadata` that `engine`'s database lacks."""
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except sa.exc.DBAPIError as err:
            if not raced(err) or attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.02, 0.1))


__all__ = ["create_missing", "raced"]
