"""Sorting on a nullable column keeps each database's own NULL order, so that the
dashboard query (equality on the first column of an index, sort on the second)
reads the index in order with no sort step, on every backend (its EXPLAIN), and
a cursor walk over that column returns every row once, NULLs included."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.databases import temporary_database
from legacy_adapters.base import Condition, Order, Select, TableRef
from legacy_adapters.sql import SQLAlchemySource
from legacy_adapters.sql.statements import build_statement

from .test_sql_plans import INDEX_ORDER_ONLY, explain, full_scans, sort_steps

JOBS = TableRef("dash_jobs")
ROWS = 6000


def _build(url: str) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "dash_jobs",
        metadata,
        sa.Column("job_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("work_center", sa.CHAR(4), nullable=False),
        sa.Column("due_date", sa.Date, nullable=True),
        sa.Column("note", sa.String(40)),
        sa.Index("ix_dash_wc_due", "work_center", "due_date"),
    )
    rng = random.Random(9)
    rows = [
        {
            "job_id": n,
            "work_center": f"WC{rng.randrange(12):02d}",
            # every 7th job has no due date; dates repeat (ties for the key to break)
            "due_date": None
            if n % 7 == 0
            else dt.date(2026, 1, 1) + dt.timedelta(rng.randrange(90)),
            "note": "x" * 30,
        }
        for n in range(1, ROWS + 1)
    ]
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(table.insert(), rows)
            conn.exec_driver_sql(
                "ANALYZE TABLE dash_jobs" if engine.dialect.name == "mysql" else "ANALYZE"
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def source(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLAlchemySource]:
    tmp: Path = tmp_path_factory.mktemp(f"nulls-{backend}")
    with temporary_database(backend, tmp) as url:
        _build(url)
        src = SQLAlchemySource(url)
        src.reflect(tables=[JOBS])
        try:
            yield src
        finally:
            src.close()


def _dashboard(descending: bool, after: tuple | None = None) -> Select:
    return Select(
        JOBS,
        ("job_id", "due_date"),
        (Condition("work_center", "eq", "WC03"),),
        (Order("due_date", descending), Order("job_id", descending)),
        after=after,
        limit=51,
    )


def plan(source: SQLAlchemySource, query: Select, nulls: str | None = None) -> str:
    """The plan of `query` as the source runs it (`nulls`: as it would with that
    null order instead of its database's own)."""
    stmt, params = source.build(query)
    if nulls is not None:
        stmt = build_statement(source._table(JOBS), query, source._table, nulls=nulls)
    return explain(source, stmt, params, INDEX_ORDER_ONLY)


CURSORS = [None, (dt.date(2026, 2, 1), 3000), (None, 3000)]


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("after", CURSORS, ids=["first", "after-date", "after-null"])
def test_the_dashboard_query_reads_the_index_in_order(
    source: SQLAlchemySource, descending: bool, after: tuple | None
) -> None:
    query = _dashboard(descending, after)
    text = plan(source, query)
    assert full_scans(source, text) == [], text  # an index range (the PK's for the NULL tail)
    assert sort_steps(source, text) == [], text
    stmt, _ = source.build(query)
    assert "CASE" not in str(stmt.compile(dialect=source.engine.dialect)).upper()


@pytest.mark.parametrize("after", CURSORS[:2], ids=["first", "after-date"])
def test_the_check_can_fail(source: SQLAlchemySource, after: tuple | None) -> None:
    """NULLs ordered by a leading `CASE WHEN due_date IS NULL` term (what the source
    did before it kept each database's own order): every backend sorts."""
    text = plan(source, _dashboard(False, after), nulls="explicit")
    assert sort_steps(source, text), text


def _expected(source: SQLAlchemySource, descending: bool) -> list[int]:
    engine = sa.create_engine(source.url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT job_id, due_date FROM dash_jobs WHERE work_center = 'WC03'"
            ).all()
    finally:
        engine.dispose()
    nulls_first = (source.capabilities.nulls_sort == "least") != descending
    present = sorted((r for r in rows if r[1] is not None), key=lambda r: (r[1], r[0]))
    absent = sorted(r for r in rows if r[1] is None)
    if descending:
        present, absent = present[::-1], absent[::-1]
    ordered = absent + present if nulls_first else present + absent
    return [r[0] for r in ordered]


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("page", [1, 13])
def test_a_cursor_walk_over_a_nullable_sort_column_returns_every_row_once(
    source: SQLAlchemySource, descending: bool, page: int
) -> None:
    walked: list[int] = []
    after = None
    while True:
        query = _dashboard(descending, after)
        rows = source.select(
            Select(query.table, query.columns, query.where, query.order_by, after, limit=page)
        )
        walked += [r[0] for r in rows]
        if len(rows) < page:
            break
        after = (rows[-1][1], rows[-1][0])
    expected = _expected(source, descending)
    assert walked == expected
    assert len(set(walked)) == len(walked) > 100
