"""Capture's state in the state database, and the commit that makes a poll count.

`commit` writes, in ONE transaction: the lease renewal (or nothing, when the
lease was lost), the rows' new state, the range tree's new checksums, the unit's
watermark and the events in the outbox. A crash before it leaves everything as
it was (the changes are found again, with the same event ids); after it, the
events are in the outbox. A change may be delivered twice, never lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from wrapper.events import outbox
from wrapper.events.capture import lease
from wrapper.events.capture.diff import Stored
from wrapper.events.capture.tables import ranges, rows, units
from wrapper.events.envelope import Event
from wrapper.events.tables import outbox as outbox_table

CHUNK = 5000  # rows per INSERT ... ON CONFLICT statement


@dataclass(frozen=True)
class UnitState:
    watermark: str | None
    baseline_at: float | None
    start: str | None = None


@dataclass
class Commit:
    """What one poll (or one batch of it) writes."""

    events: list[Event] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)  # lw_capture_rows
    nodes: list[dict[str, Any]] = field(default_factory=list)  # lw_capture_ranges upserts
    dropped_nodes: list[str] = field(default_factory=list)
    unit: dict[str, Any] = field(default_factory=dict)  # lw_capture_units values


def _insert(conn: sa.Connection) -> Any:
    return {"postgresql": postgresql, "sqlite": sqlite}[conn.dialect.name].insert


def unit_state(conn: sa.Connection, unit: str) -> UnitState | None:
    row = conn.execute(sa.select(units).where(units.c.unit == unit)).first()
    return UnitState(row.watermark, row.baseline_at, row.start) if row else None


def _stored(row: Any) -> Stored:
    return Stored(row.hashes, row.changes, row.rules, row.node)


def load_keys(conn: sa.Connection, unit: str, keys: Sequence[str]) -> dict[str, Stored]:
    found: dict[str, Stored] = {}
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        query = sa.select(rows).where(rows.c.unit == unit, rows.c.key.in_(chunk))
        found.update({r.key: _stored(r) for r in conn.execute(query)})
    return found


def load_node(conn: sa.Connection, unit: str, node: str) -> dict[str, Stored]:
    query = sa.select(rows).where(rows.c.unit == unit, rows.c.node == node)
    return {r.key: _stored(r) for r in conn.execute(query)}


def load_all(conn: sa.Connection, unit: str) -> dict[str, Stored]:
    query = sa.select(rows).where(rows.c.unit == unit)
    return {r.key: _stored(r) for r in conn.execute(query)}


def _upsert(conn: sa.Connection, table: sa.Table, keys: list[str], values: Iterable[dict]) -> None:
    batch: list[dict] = []
    for value in values:
        batch.append(value)
        if len(batch) == CHUNK:
            _upsert_batch(conn, table, keys, batch)
            batch = []
    if batch:
        _upsert_batch(conn, table, keys, batch)


def _upsert_batch(conn: sa.Connection, table: sa.Table, keys: list[str], batch: list[dict]) -> None:
    stmt = _insert(conn)(table)
    columns = [c for c in batch[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in columns}
    )
    conn.execute(stmt, batch)


def commit(
    engine: sa.Engine, unit: str, mode: str, holder: str, work: Commit, *, ttl: float, now: float
) -> int:
    """Writes ``work`` atomically, while ``holder`` still leads (else `LeaseLost`);
    returns how many of its events were new to the outbox."""
    with engine.begin() as conn:
        lease.renew(conn, unit, holder, ttl=ttl, now=now)
        _upsert(conn, rows, ["unit", "key"], work.writes)
        if work.dropped_nodes:
            conn.execute(
                ranges.delete().where(ranges.c.unit == unit, ranges.c.node.in_(work.dropped_nodes))
            )
        _upsert(conn, ranges, ["unit", "node"], work.nodes)
        values = {"unit": unit, "mode": mode, "polled_at": now, **work.unit}
        if work.events:
            values["changed_at"] = now
        _upsert_batch(conn, units, ["unit"], [values])
        ids = [e.id for e in work.events]
        held = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            held.update(
                conn.execute(
                    sa.select(outbox_table.c.id).where(outbox_table.c.id.in_(chunk))
                ).scalars()
            )
        fresh = [e for e in work.events if e.id not in held]
        outbox.append(conn, fresh)
        return len(fresh)
