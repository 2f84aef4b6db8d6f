"""The three capture modes on SQLite, PostgreSQL and MariaDB: inserts, updates,
deletes, a row changed twice between polls, the overlap window."""

from __future__ import annotations

import datetime as dt

import pytest

from .conftest import T0

SECOND = dt.timedelta(seconds=1)
WATERMARK = "{capture: watermark, column: UPD_TS, overlap: 5s}"
SNAPSHOT = "{capture: snapshot}"
INCREASING = "{capture: increasing, column: ORD_NO}"


def kinds(events) -> list[tuple[str, str, str]]:
    return [(e.version, e.type, e.subject) for e in events]


@pytest.mark.parametrize("mode", [WATERMARK, SNAPSHOT])
def test_inserts_updates_and_deletes_become_events_per_version(plant, mode) -> None:
    p = plant(mode)
    p.insert(1)
    p.insert(2)
    first = p.poll()
    assert first.baseline and p.events() == []  # the table as it was: no events

    p.insert(3, cust="C2", ts=T0 + SECOND)
    p.update(1, STAT="SH", UPD_TS=T0 + SECOND)
    p.poll()
    events = p.events()
    assert kinds(events) == [
        ("v1", "orders.created", "3"),
        ("v1", "orders.updated", "1"),
        ("v2", "orders.created", "3"),
        ("v2", "orders.updated", "1"),
    ] or sorted(kinds(events)) == sorted(
        [
            ("v1", "orders.created", "3"),
            ("v1", "orders.updated", "1"),
            ("v2", "orders.created", "3"),
            ("v2", "orders.updated", "1"),
        ]
    )
    by = {(e.version, e.subject): e for e in events}
    created = by[("v1", "3")]
    assert created.data == {
        "order_no": 3,
        "customer": "C2",
        "status": "open",
        "amount": created.data["amount"],
        "updated_at": created.data["updated_at"],
    }
    assert str(created.data["amount"]) == "10.50"
    updated_v1, updated_v2 = by[("v1", "1")], by[("v2", "1")]
    assert updated_v1.data["status"] == "shipped" and updated_v2.data["state"] == "SHIPPED"
    assert set(updated_v1.changed_fields) == {"status", "updated_at"}
    assert updated_v2.changed_fields == ("state",)
    assert updated_v1.previous == {"customer": "C1"}

    if mode == SNAPSHOT:
        p.delete(2)
        p.poll()
        deleted = [e for e in p.events() if e.type == "orders.deleted"]
        assert [(e.version, e.subject, e.data) for e in deleted] == [
            ("v1", "2", {"order_no": 2}),
            ("v2", "2", {"id": 2}),
        ]
        assert deleted[0].previous == {"customer": "C1"}


@pytest.mark.parametrize("mode", [WATERMARK, SNAPSHOT])
def test_a_row_changed_twice_between_polls_is_one_update_with_its_last_values(plant, mode) -> None:
    p = plant(mode)
    p.insert(1)
    p.poll()
    p.update(1, STAT="SH", UPD_TS=T0 + SECOND)
    p.update(1, STAT="CL", CUST="C9", UPD_TS=T0 + 2 * SECOND)
    p.poll()
    (v1, v2) = p.events()
    assert v1.type == "orders.updated" and v1.data["status"] == "closed"
    assert v1.previous == {"customer": "C1"} and v1.data["customer"] == "C9"
    assert v2.data["state"] == "CLOSED"
    p.poll()
    assert len(p.events()) == 2  # nothing new


def test_an_update_back_and_forth_is_two_events_with_distinct_ids(plant) -> None:
    p = plant(SNAPSHOT)
    p.insert(1)
    p.poll()
    for stat in ("SH", "OP", "SH"):
        p.update(1, STAT=stat)
        p.poll()
    ids = [e.id for e in p.events() if e.version == "v1"]
    assert len(ids) == 3 and len(set(ids)) == 3


def test_the_overlap_rereads_without_duplicates_and_catches_a_late_commit(plant) -> None:
    p = plant(WATERMARK)
    p.insert(1, ts=T0)
    p.poll()
    p.insert(2, ts=T0 + 10 * SECOND)
    p.poll()
    assert kinds(p.events()) == [("v1", "orders.created", "2"), ("v2", "orders.created", "2")]
    again = p.poll()
    assert again.rows_fetched == 1 and again.events == 0  # re-read inside the overlap, no event
    # committed late under an older timestamp than the newest seen, inside the overlap
    p.insert(3, ts=T0 + 7 * SECOND)
    p.update(1, STAT="SH", UPD_TS=T0 + 10 * SECOND)  # the same timestamp as the newest
    p.poll()
    got = kinds(p.events())[2:]
    assert sorted(got) == sorted(
        [
            ("v1", "orders.created", "3"),
            ("v2", "orders.created", "3"),
            ("v1", "orders.updated", "1"),
            ("v2", "orders.updated", "1"),
        ]
    )
    # outside the overlap: not read (the price of a watermark)
    p.insert(4, ts=T0)
    p.poll()
    assert "4" not in {e.subject for e in p.events()}


def test_increasing_ids_are_creations_and_an_overlap_reread_adds_none(plant) -> None:
    p = plant("{capture: increasing, column: ORD_NO, overlap: 10}")
    p.insert(5)
    p.poll()  # 5 was there before: no event
    p.insert(7)
    p.poll()
    assert kinds(p.events()) == [("v1", "orders.created", "7"), ("v2", "orders.created", "7")]
    p.insert(6)  # an id allocated before 7, committed after it: within the overlap
    report = p.poll()
    assert report.rows_fetched == 3 and report.events == 2  # 5 and 7 read again, not sent
    assert [e.subject for e in p.events()] == ["7", "7", "6", "6"]
    p.update(6, STAT="SH")
    p.poll()
    assert len(p.events()) == 4  # inserts only


# What a DATETIME column holds that is no timestamp, as the legacy application wrote it:
# MariaDB's zero date, SQLite's text in the application's own format. The driver or
# the adapter gives it back as text, which cannot be compared with a timestamp.
NOT_A_TIMESTAMP = {
    "mariadb": ("SET SESSION sql_mode = ''", "0000-00-00 00:00:00"),
    "sqlite": (None, "30/11/2026 08:00"),
}


def test_a_watermark_column_holding_no_timestamp_does_not_stop_capture(plant, backend) -> None:
    if backend not in NOT_A_TIMESTAMP:
        pytest.skip("the column holds timestamps only")
    mode, text = NOT_A_TIMESTAMP[backend]
    p = plant(WATERMARK)
    with p.legacy.begin() as conn:
        if mode:
            conn.exec_driver_sql(mode)
        for no in (1, 2):
            conn.exec_driver_sql(
                "INSERT INTO ORDERS (ORD_NO, CUST, STAT, UPD_TS) "
                f"VALUES ({no}, 'C1', 'OP', '{text}')"
            )
    assert p.poll().baseline  # the newest value is no timestamp: nothing to start from
    p.insert(3, ts=T0)
    p.poll()
    assert kinds(p.events()) == [("v1", "orders.created", "3"), ("v2", "orders.created", "3")]
    p.update(3, STAT="SH", UPD_TS=T0 + SECOND)
    p.poll()
    assert kinds(p.events())[2:] == [("v1", "orders.updated", "3"), ("v2", "orders.updated", "3")]
