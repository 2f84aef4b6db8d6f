"""Snapshot capture with range checksums computed in the legacy database: only
the key ranges that changed are read."""

from __future__ import annotations

import sqlalchemy as sa

from legacy_adapters.bulkhead import Bulkhead
from wrapper.events.capture import ranges as ranges_module
from wrapper.events.capture.ranges import FANOUT, SPLIT_AT
from wrapper.events.capture.tables import ranges

from .conftest import ORDERS, T0

ROWS = 5000


def fill(p, rows: int = ROWS) -> None:
    with p.legacy.begin() as conn:
        conn.execute(
            ORDERS.insert(),
            [
                {"ORD_NO": i, "CUST": f"C{i % 7}", "STAT": "OP", "AMT": i, "UPD_TS": T0}
                for i in range(1, rows + 1)
            ],
        )


def test_only_the_ranges_that_changed_are_fetched(plant) -> None:
    p = plant("{capture: snapshot}")
    fill(p)
    baseline = p.poll()
    assert baseline.baseline and baseline.rows_fetched == ROWS and p.events() == []
    with p.store.connect() as conn:
        leaves = conn.execute(
            sa.select(sa.func.count()).where(ranges.c.leaf, ranges.c.unit == "orders")
        ).scalar()
    assert leaves > FANOUT  # a tree deeper than one level

    unchanged = p.poll()
    assert (unchanged.rows_fetched, unchanged.queries, unchanged.events) == (0, 1, 0)

    p.update(17, STAT="SH")
    p.update(2500, NOTE="rush")  # a column no version serves: no event
    p.delete(4000)
    p.insert(ROWS + 1)
    report = p.poll()
    assert report.rows_fetched <= 4 * SPLIT_AT  # a few leaves, not 5,000 rows
    assert sorted((e.type, e.subject) for e in p.events() if e.version == "v1") == [
        ("orders.created", str(ROWS + 1)),
        ("orders.deleted", "4000"),
        ("orders.updated", "17"),
    ]
    assert p.poll().rows_fetched == 0  # the tree holds the new checksums


def test_inserts_at_the_end_split_the_last_leaf(plant) -> None:
    p = plant("{capture: snapshot}")
    fill(p, 100)
    p.poll()
    for i in range(101, 101 + 3 * SPLIT_AT):
        p.insert(i)
    p.poll()
    assert len([e for e in p.events() if e.version == "v1"]) == 3 * SPLIT_AT
    p.update(150, STAT="CL")
    report = p.poll()
    assert report.rows_fetched <= 2 * SPLIT_AT
    assert [e.subject for e in p.events() if e.type == "orders.updated"] == ["150", "150"]


def test_a_deleted_key_created_again_is_a_new_event(plant) -> None:
    p = plant("{capture: snapshot}")
    fill(p, 300)
    p.poll()
    p.delete(10)
    p.poll()
    p.insert(10)
    p.poll()
    v1 = [e for e in p.events() if e.version == "v1"]
    assert [e.type for e in v1] == ["orders.deleted", "orders.created"]
    assert len({e.id for e in p.events()}) == 4


def test_a_source_without_range_checksums_is_compared_row_by_row(plant) -> None:
    p = plant("{capture: snapshot}")
    fill(p, 300)
    p.source = Bulkhead(p.source, 2, 5.0)  # a Source without the capability
    assert p.poll().rows_fetched == 300
    p.update(5, STAT="SH")
    p.delete(6)
    report = p.poll()
    assert report.rows_fetched == 299
    assert sorted((e.type, e.subject) for e in p.events() if e.version == "v1") == [
        ("orders.deleted", "6"),
        ("orders.updated", "5"),
    ]


def test_a_large_leaf_is_read_in_pages(plant, monkeypatch) -> None:
    monkeypatch.setattr(ranges_module, "PAGE", 7)
    p = plant("{capture: snapshot}")
    fill(p, 100)
    baseline = p.poll()
    assert baseline.rows_fetched == 100 and baseline.queries == 15  # 100 rows, 7 a page
    p.update(99, STAT="CL")
    p.poll()
    assert [(e.type, e.subject) for e in p.events()] == [("orders.updated", "99")] * 2
