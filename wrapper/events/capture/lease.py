"""One capture leader per resource: a lease row in the state database.

A runner takes the lease when it is free or has run out, and renews it while it
works (`kept`). Every commit of captured changes renews it in the same transaction and
fails (nothing is written) when the runner no longer holds it, so a runner that
stalled past its lease, while another took over, cannot emit twice. Works on
SQLite and PostgreSQL state databases (an upsert guarded by a condition).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from wrapper.events.capture.tables import leases


class LeaseLost(Exception):
    """This runner no longer leads the capture; what it read is dropped."""


def acquire(engine: sa.Engine, name: str, holder: str, *, ttl: float, now: float) -> bool:
    """Takes or renews the lease; True when ``holder`` leads until ``now + ttl``."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[engine.dialect.name]
    insert = dialect.insert(leases).values(name=name, holder=holder, expires_at=now + ttl)
    upsert = insert.on_conflict_do_update(
        index_elements=["name"],
        set_={"holder": holder, "expires_at": now + ttl},
        where=sa.or_(leases.c.holder == holder, leases.c.expires_at < now),
    )
    with engine.begin() as conn:
        conn.execute(upsert)
        current = conn.execute(sa.select(leases.c.holder).where(leases.c.name == name)).scalar()
    return current == holder


def renew(conn: sa.Connection, name: str, holder: str, *, ttl: float, now: float) -> None:
    """Extends the lease or raises `LeaseLost` (rolling back the caller's transaction).
    A lease that ran out but was taken by nobody is still ours: nobody wrote since."""
    result = conn.execute(
        leases.update()
        .where(leases.c.name == name, leases.c.holder == holder)
        .values(expires_at=now + ttl)
    )
    if result.rowcount != 1:
        raise LeaseLost(f"the capture lease {name} is held by another worker")


@contextmanager
def kept(
    engine: sa.Engine, name: str, holder: str, *, ttl: float, clock: Callable[[], float]
) -> Iterator[None]:
    """Renews the lease every third of ``ttl`` while the block runs (a poll that
    reads a large table for longer than the lease keeps it)."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(ttl / 3):
            try:
                with engine.begin() as conn:
                    renew(conn, name, holder, ttl=ttl, now=clock())
            except (LeaseLost, sa.exc.DBAPIError):
                return  # the commit finds out whether the lease is still held

    thread = threading.Thread(target=beat, name=f"lease {name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def release(engine: sa.Engine, name: str, holder: str) -> None:
    with engine.begin() as conn:
        conn.execute(leases.delete().where(leases.c.name == name, leases.c.holder == holder))
