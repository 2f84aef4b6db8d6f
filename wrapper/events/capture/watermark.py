"""Polling a column the legacy application maintains.

`watermark`: a last-update timestamp or rowversion. The first poll records the
table as it is (no events) and the newest value; every later poll reads, in
column order and in batches, the rows at most `overlap` older than the newest
value seen, so that a row committed late under an older value is still read.
A row read again unchanged (same column hashes) is no change; each batch
commits its changes with the watermark it reached. Deletions leave no row to
read: use `snapshot` for tables whose rows are deleted. Rows whose column is
NULL are never read. A value that is no timestamp or number (MariaDB's zero date,
text an application wrote into a SQLite DATETIME) comes back as text: it never
becomes the watermark, and while no real value is known every row is read.

`increasing`: an ever-increasing value (an id of inserts). Every new row is a
creation, and its event id depends only on its key: re-reading the `overlap`
below the highest value (ids committed out of order) adds nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from legacy_adapters.base import Condition, Order, Select
from wrapper.events.capture import store
from wrapper.events.capture.diff import Change, Diff, Stored, compare
from wrapper.events.capture.poll import Poll
from wrapper.events.capture.store import UnitState
from wrapper.events.capture.values import pack, unpack


def _back(value: Any, overlap: float) -> Any:
    """``value`` moved back by the overlap, in the column's own terms."""
    if not overlap:
        return value
    if isinstance(value, dt.datetime | dt.date):
        step = dt.timedelta(seconds=overlap)
        if not isinstance(value, dt.datetime):
            step = dt.timedelta(days=-(-overlap // 86400))
        return value - step
    if isinstance(value, int):
        return value - int(overlap)
    if isinstance(value, Decimal):
        return value - Decimal(str(overlap))
    return value - overlap


def _comparable(value: Any) -> bool:
    """A value the watermark can be compared with and moved back from. Watermark
    columns hold timestamps, dates or numbers (`WATERMARK_TYPES`): text there is a
    value the database could not give as one (a zero date, an unparsable text)."""
    return value is not None and not isinstance(value, str)


def _newest(poll: Poll) -> Any:
    unit = poll.unit
    column = unit.events.column
    assert column is not None
    query = Select(
        unit.table, (column,), (Condition(column, "isnull", (False, ())),),
        (Order(column, descending=True),), limit=1,
    )  # fmt: skip
    poll.report.queries += 1
    rows = poll.source.select(query)
    return rows[0][0] if rows and _comparable(rows[0][0]) else None


def _batches(poll: Poll, where: tuple[Condition, ...]) -> Iterator[list[tuple[Any, ...]]]:
    """The rows ``where`` selects, in (column, key) order, a batch at a time."""
    unit = poll.unit
    column = unit.events.column
    assert column is not None
    order = (Order(column), *(Order(k) for k in unit.key))
    after = None
    while True:
        query = Select(unit.table, unit.columns, where, order, after=after, limit=poll.batch)
        poll.report.queries += 1
        rows = poll.source.select(query)
        poll.report.rows_fetched += len(rows)
        if not rows:
            return
        yield rows
        if len(rows) < poll.batch:
            return
        last = rows[-1]
        after = (last[unit.watermark_position], *unit.key_of(last))


def _start(poll: Poll) -> UnitState | None:
    """The unit's state; on the first poll records where capture starts (and None)."""
    unit = poll.unit
    with poll.store.connect() as conn:
        state = store.unit_state(conn, unit.name)
    if state is not None and state.baseline_at is not None:
        return state
    poll.report.baseline = True
    newest = _newest(poll)  # read first: changes made while the table is read are re-read
    if unit.events.mode == "watermark":  # the rows as they are, so updates are told apart
        for rows in _batches(poll, ()):
            poll.commit(compare(unit, rows, _stored(poll, rows), baseline=True))
    mark = None if newest is None else pack((newest,))
    started = {"watermark": mark, "start": mark, "baseline_at": poll.clock()}
    poll.commit(Diff(), store.Commit(unit=started))
    return None


def _stored(poll: Poll, rows: list[tuple[Any, ...]]) -> dict[str, Stored]:
    with poll.store.connect() as conn:
        return store.load_keys(conn, poll.unit.name, [pack(poll.unit.key_of(r)) for r in rows])


def _mark(highest: Any, rows: list[tuple[Any, ...]], at: int) -> Any:
    top = max((r[at] for r in rows if _comparable(r[at])), default=None)
    return top if highest is None or (top is not None and top > highest) else highest


def poll_watermark(poll: Poll) -> None:
    state = _start(poll)
    if state is None:
        return
    unit = poll.unit
    highest = None if state.watermark is None else unpack(state.watermark)[0]
    highest = highest if _comparable(highest) else None
    where: tuple[Condition, ...] = ()
    if highest is not None:
        where = (Condition(unit.events.column or "", "gte", _back(highest, unit.events.overlap)),)
    for rows in _batches(poll, where):
        highest = _mark(highest, rows, unit.watermark_position)
        mark = {"watermark": pack((highest,))}
        poll.commit(compare(unit, rows, _stored(poll, rows)), store.Commit(unit=mark))


def poll_increasing(poll: Poll) -> None:
    state = _start(poll)
    if state is None:
        return
    unit = poll.unit
    highest = None if state.watermark is None else unpack(state.watermark)[0]
    highest = highest if _comparable(highest) else None
    where: tuple[Condition, ...] = ()
    if highest is not None:
        where = (Condition(unit.events.column or "", "gt", _back(highest, unit.events.overlap)),)
    start = None if state.start is None else unpack(state.start)[0]
    start = start if _comparable(start) else None
    at = unit.watermark_position
    for rows in _batches(poll, where):
        highest = _mark(highest, rows, at)
        # there before capture; a value that is no number cannot be placed: left out
        rows = [r for r in rows if _comparable(r[at]) and (start is None or r[at] > start)]
        # a key is created once: its event id depends on it alone, and the outbox
        # skips an id it holds, so what an overlap reads again is not sent again
        changes = [Change("created", unit.key_of(r), pack(unit.key_of(r)), 1, r) for r in rows]
        poll.commit(Diff(changes), store.Commit(unit={"watermark": pack((highest,))}))
