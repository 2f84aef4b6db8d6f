"""A new file export is diffed by key against the previous one and its changes
become events, through the same snapshot capture and outbox as a database table."""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from wrapper.config import load_config
from wrapper.events import tables
from wrapper.events.outbox import _event
from wrapper.events.worker import Worker

MAPPING = """
sources:
  exports:
    kind: files
    check_interval: 3600
    tables:
      CUSTOMERS:
        path: drops/customers/
        format: csv
        encoding: cp1252
        delimiter: ';'
        types: {BALANCE: 'decimal(9,2)'}
        key: [CUST_NO]
state: {url: "sqlite:///state.db"}
versions:
  v1:
    resources:
      customers:
        table: CUSTOMERS
        events: {capture: snapshot}
        fields:
          customer_no: CUST_NO
          name: NAME
          balance: BALANCE
"""


def drop(folder: Path, rows: list[tuple[str, str, str]], name: str, age: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = "CUST_NO;NAME;BALANCE\r\n" + "".join(f"{c};{n};{b}\r\n" for c, n, b in rows)
    (folder / f"{name}.part").write_bytes(text.encode("cp1252"))
    os.replace(folder / f"{name}.part", folder / name)
    os.utime(folder / name, (1_700_000_000 + age,) * 2)


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    monkeypatch.chdir(tmp_path)
    drop(
        tmp_path / "drops" / "customers",
        [("C1", "Müller", "10.00"), ("C2", "Öztürk", "20.00"), ("C3", "Weiß", "30.00")],
        "customers-1.csv",
        1,
    )
    (tmp_path / "wrapper.yaml").write_text(MAPPING, encoding="utf-8")
    opened = Worker.open(load_config(tmp_path / "wrapper.yaml"))
    yield opened
    opened.close()


def test_a_new_export_becomes_created_updated_and_deleted_events(
    worker: Worker, tmp_path: Path
) -> None:
    (unit,) = worker.capture.units
    first = worker.capture.poll(unit)
    assert first is not None and first.events == 0  # the first export is the baseline

    drop(
        tmp_path / "drops" / "customers",
        [("C1", "Müller", "10.00"), ("C2", "Öztürk", "25.50"), ("C4", "Šimek", "40.00")],
        "customers-2.csv",
        2,
    )
    worker.sources["exports"].refresh()  # type: ignore[attr-defined]
    report = worker.capture.poll(unit)
    assert report is not None and report.events == 3

    with worker.store.connect() as conn:
        events = [_event(r) for r in conn.execute(tables.outbox.select())]
    got = {(e.type, e.subject): e for e in events}
    assert set(got) == {
        ("customers.updated", "C2"),
        ("customers.deleted", "C3"),
        ("customers.created", "C4"),
    }
    updated = got["customers.updated", "C2"]
    assert updated.changed_fields == ("balance",)
    assert updated.data["name"] == "Öztürk" and updated.data["balance"] == Decimal("25.50")
    assert got["customers.created", "C4"].data["name"] == "Šimek"

    again = worker.capture.poll(unit)  # nothing new arrived: nothing more
    assert again is not None and again.events == 0
