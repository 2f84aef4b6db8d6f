"""Events and the watermark or snapshot they come from are committed together;
one capture leader at a time."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.databases import temporary_database
from wrapper.events import outbox
from wrapper.events.capture.tables import rows, units

from ....conftest import require_backend
from .conftest import T0

SECOND = dt.timedelta(seconds=1)


def saved(p) -> tuple:
    with p.store.connect() as conn:
        mark = conn.execute(sa.select(units.c.watermark)).scalar()
        states = conn.execute(sa.select(rows.c.key, rows.c.hashes, rows.c.changes)).all()
    return mark, sorted(states)


@pytest.mark.parametrize("mode", ["{capture: watermark, column: UPD_TS}", "{capture: snapshot}"])
def test_a_failed_commit_keeps_neither_events_nor_the_advanced_state(
    plant, mode, monkeypatch
) -> None:
    p = plant(mode)
    p.insert(1)
    p.poll()
    before = saved(p)
    p.update(1, STAT="SH", UPD_TS=T0 + SECOND)
    p.insert(2, ts=T0 + SECOND)
    append = outbox.append

    def append_then_fail(conn, events):
        append(conn, events)
        raise RuntimeError("the state database went away mid-commit")

    monkeypatch.setattr(outbox, "append", append_then_fail)
    with pytest.raises(RuntimeError):
        p.poll()
    assert p.events() == [] and saved(p) == before
    monkeypatch.setattr(outbox, "append", append)
    p.poll()
    assert sorted((e.version, e.type, e.subject) for e in p.events()) == [
        ("v1", "orders.created", "2"),
        ("v1", "orders.updated", "1"),
        ("v2", "orders.created", "2"),
        ("v2", "orders.updated", "1"),
    ]
    assert saved(p) != before


def test_a_second_runner_waits_and_a_stalled_leader_cannot_commit(plant) -> None:
    p = plant("{capture: snapshot}")
    clock = [1000.0]
    first, second = p.runner(), p.runner()
    first.clock = second.clock = lambda: clock[0]
    p.insert(1)
    assert p.poll(first) is not None
    assert second.poll(p.unit) is None  # the first leads

    p.update(1, STAT="SH")
    clock[0] += first.ttl(p.unit) + 1  # the first stalls past its lease
    assert p.poll(second).events == 2  # the second takes over and emits
    p.update(1, STAT="CL")
    first.clock = lambda: clock[0] - first.ttl(p.unit)  # the first still believes it leads
    assert first.poll(p.unit) is None and first.status["orders"].leading is False
    assert [e.data.get("status") for e in p.events() if e.version == "v1"] == ["shipped"]


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path: Path):
    require_backend(request.param)
    folder = tmp_path / "state"
    folder.mkdir()
    with temporary_database(request.param, folder) as url:
        yield url


def test_runners_at_once_emit_every_change_once(plant, state_url) -> None:
    p = plant("{capture: snapshot, interval: 0.05}", state_url)
    for i in range(1, 21):
        p.insert(i)
    runners = [p.runner() for _ in range(3)]
    p.poll(runners[0])  # the baseline, before the changes
    expected = {(str(i), "orders.updated") for i in range(1, 21) if i % 5} | {
        (str(i), "orders.deleted") for i in range(5, 21, 5)
    }
    stop = threading.Event()
    threads = [threading.Thread(target=r.run, args=(stop,)) for r in runners]
    for t in threads:
        t.start()
    try:
        for i in range(1, 21):
            p.update(i, STAT="SH")
            if i % 5 == 0:
                p.delete(i)
        pause = threading.Event()
        for _ in range(400):
            if expected <= {(e.subject, e.type) for e in p.events() if e.version == "v1"}:
                break
            pause.wait(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    v1 = [e for e in p.events() if e.version == "v1"]
    changes = Counter((e.subject, e.type) for e in v1)
    assert all(n == 1 for n in changes.values())  # one event per change, never two
    assert expected <= set(changes)
    assert sum(r.status["orders"].polls for r in runners) > 1
    assert sum(1 for r in runners if r.status["orders"].polls) >= 1
