"""Capture fixtures: a legacy ORDERS table on each backend (the test plays the
legacy application and writes it), its mapping in two API versions, and a
state database on SQLite."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fixtures.databases import temporary_database
from legacy_adapters.sql.source import SQLAlchemySource
from wrapper.config import parse_config
from wrapper.events import tables
from wrapper.events.capture.poll import Report
from wrapper.events.capture.runner import CaptureRunner
from wrapper.events.capture.unit import CaptureUnit, capture_units
from wrapper.events.envelope import Event
from wrapper.events.outbox import _event
from wrapper.mapping.model import build_mapping, mapped_tables

legacy_metadata = sa.MetaData()
ORDERS = sa.Table(
    "ORDERS",
    legacy_metadata,
    sa.Column("ORD_NO", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("CUST", sa.String(10), nullable=False),
    sa.Column("STAT", sa.String(2), nullable=False),
    sa.Column("AMT", sa.Numeric(10, 2)),
    sa.Column("NOTE", sa.String(40)),
    sa.Column("UPD_TS", sa.DateTime),
)

MAPPING = """
source: {{url: "{legacy}"}}
state: {{url: "{state}"}}
versions:
  v1:
    resources:
      orders:
        table: ORDERS
        fields:
          order_no: ORD_NO
          customer: {{column: CUST, rows: {{claim: customer}}}}
          status: {{column: STAT, convert: {{enum: {{OP: open, SH: shipped, CL: closed}}}}}}
          amount: AMT
          updated_at: UPD_TS
        events: {events}
  v2:
    resources:
      orders:
        table: ORDERS
        fields:
          id: ORD_NO
          customer: {{column: CUST, rows: {{claim: customer}}}}
          state: {{column: STAT, convert: {{enum: {{OP: OPEN, SH: SHIPPED, CL: CLOSED}}}}}}
"""

T0 = dt.datetime(2026, 11, 30, 8, 0, 0)


@dataclass
class Plant:
    """The legacy database, the source capture reads, the state database."""

    legacy: sa.Engine
    source: SQLAlchemySource
    store: sa.Engine
    unit: CaptureUnit
    runners: list[CaptureRunner] = field(default_factory=list)
    clock: list[float] = field(default_factory=lambda: [1_800_000_000.0])

    def runner(self) -> CaptureRunner:
        runner = CaptureRunner([self.unit], {self.unit.source: self.source}, self.store)
        self.runners.append(runner)
        return runner

    def poll(self, runner: CaptureRunner | None = None) -> Report:
        runner = runner or (self.runners[0] if self.runners else self.runner())
        report = runner.poll(self.unit)
        assert report is not None, "this runner does not lead the capture"
        return report

    def write(self, sql: str, **params: Any) -> None:
        with self.legacy.begin() as conn:
            conn.execute(sa.text(sql), params)

    def insert(
        self, no: int, cust: str = "C1", stat: str = "OP", ts: dt.datetime = T0, **more: Any
    ) -> None:
        row = {
            "ORD_NO": no,
            "CUST": cust,
            "STAT": stat,
            "AMT": Decimal("10.50"),
            "UPD_TS": ts,
            **more,
        }
        with self.legacy.begin() as conn:
            conn.execute(ORDERS.insert(), row)

    def update(self, no: int, **values: Any) -> None:
        with self.legacy.begin() as conn:
            conn.execute(ORDERS.update().where(ORDERS.c.ORD_NO == no).values(**values))

    def delete(self, no: int) -> None:
        with self.legacy.begin() as conn:
            conn.execute(ORDERS.delete().where(ORDERS.c.ORD_NO == no))

    def events(self) -> list[Event]:
        with self.store.connect() as conn:
            rows = conn.execute(tables.outbox.select().order_by(tables.outbox.c.seq))
            return [_event(r) for r in rows]


def open_plant(legacy_url: str, state_url: str, events: str) -> Plant:
    text = MAPPING.format(legacy=legacy_url, state=state_url, events=events)
    config = parse_config(text, filename="wrapper.yaml")
    (name,) = config.sources
    source = SQLAlchemySource(legacy_url, statement_timeout=60)
    schema = source.reflect(mapped_tables(config, name))
    mapping = build_mapping(config, {name: schema})
    (unit,) = capture_units(mapping)
    return Plant(sa.create_engine(legacy_url), source, tables.connect(state_url), unit)


@pytest.fixture
def legacy_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with temporary_database(backend, tmp_path) as url:
        engine = sa.create_engine(url)
        legacy_metadata.create_all(engine)
        engine.dispose()
        yield url


@pytest.fixture
def plant(legacy_url: str, tmp_path: Path) -> Iterator[Callable[[str], Plant]]:
    """``plant("{capture: snapshot}")``: the legacy table captured that way."""
    opened: list[Plant] = []

    def make(events: str, state_url: str | None = None) -> Plant:
        made = open_plant(legacy_url, state_url or f"sqlite:///{tmp_path}/state.db", events)
        opened.append(made)
        return made

    yield make
    for p in opened:
        p.source.close()
        p.legacy.dispose()
        p.store.dispose()
