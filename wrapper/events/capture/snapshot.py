"""Snapshot capture by a full read: every row, compared key by key with the state.

For sources without range checksums (`RangeChecksums`): each poll reads the
whole table, in key order and in batches, and compares it with the per-key
hashes of the state database; a key no longer read was deleted. The first poll
records the table as it is and emits nothing. The cost grows with the table:
prefer a source with range checksums (`ranges`) for large tables.
"""

from __future__ import annotations

from typing import Any

from legacy_adapters.base import Order, Select
from wrapper.events.capture import store
from wrapper.events.capture.diff import compare
from wrapper.events.capture.poll import Poll


def read_all(poll: Poll) -> list[tuple[Any, ...]]:
    """Every row of the unit's table, in key order."""
    unit = poll.unit
    order = tuple(Order(k) for k in unit.key)
    rows: list[tuple[Any, ...]] = []
    after = None
    while True:
        query = Select(unit.table, unit.columns, (), order, after=after, limit=poll.batch * 10)
        poll.report.queries += 1
        batch = poll.source.select(query)
        rows += batch
        if len(batch) < poll.batch * 10:
            break
        after = unit.key_of(batch[-1])
    poll.report.rows_fetched += len(rows)
    return rows


def poll_full(poll: Poll) -> None:
    unit = poll.unit
    with poll.store.connect() as conn:
        state = store.unit_state(conn, unit.name)
        stored = store.load_all(conn, unit.name)
    baseline = state is None or state.baseline_at is None
    poll.report.baseline = baseline
    diff = compare(unit, read_all(poll), stored, complete=True, baseline=baseline)
    work = store.Commit(unit={"baseline_at": poll.clock()} if baseline else {})
    poll.commit(diff, work)
