"""Values a driver or SQLAlchemy cannot turn into the Python type of their column
come back as the database holds them instead of failing the page, and values it
can are not bent: MariaDB TIME beyond 24 hours and negative, zero dates;
PostgreSQL infinity, BC dates and 24:00:00; SQLite dates stored as non-ISO text
or numbers and booleans stored as 't'/'f'. Each table is walked with cursors on
such a column: every row once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from fixtures import types_zoo
from fixtures.databases import temporary_database
from legacy_adapters.base import Condition, Order, Select, TableRef
from legacy_adapters.sql import SQLAlchemySource

from ..conftest import require_backend

TEMPORAL, SCALARS, EDGES = TableRef("temporal"), TableRef("scalars"), TableRef("temporal_edges")


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mariadb"])
def zoo(request, tmp_path_factory) -> Iterator[SQLAlchemySource]:
    backend = request.param
    require_backend(backend)
    with temporary_database(backend, tmp_path_factory.mktemp(f"values-{backend}")) as url:
        types_zoo.build(url)
        source = SQLAlchemySource(url)
        tables = [TEMPORAL, SCALARS] + ([EDGES] if backend == "postgresql" else [])
        source.reflect(tables=tables)
        try:
            yield source
        finally:
            source.close()


def _all(source: SQLAlchemySource, table: TableRef, columns: tuple[str, ...]) -> dict:
    rows = source.select(Select(table, ("id", *columns), order_by=(Order("id"),)))
    return {r[0]: tuple(r[1:]) for r in rows}


def _walk(source: SQLAlchemySource, table: TableRef, column: str, descending: bool) -> list:
    order = (Order(column, descending), Order("id", descending))
    walked, after = [], None
    while True:
        page = source.select(Select(table, ("id", column), (), order, after=after, limit=9))
        walked += [r[0] for r in page]
        if len(page) < 9:
            return walked
        after = (page[-1][1], page[-1][0])


def _direct(source: SQLAlchemySource, sql: str) -> list[tuple]:
    engine = sa.create_engine(source.url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def _check_walks(source: SQLAlchemySource, table: TableRef, columns: tuple[str, ...]) -> None:
    count = len(_all(source, table, ()))
    for column in columns:
        for descending in (False, True):
            walked = _walk(source, table, column, descending)
            assert sorted(walked) == list(range(1, count + 1)), (column, descending)


def test_mariadb_time_is_a_duration_and_zero_dates_are_text(zoo: SQLAlchemySource) -> None:
    if zoo.dialect != "mysql":
        pytest.skip("MariaDB's TIME and zero dates")
    rows = _all(zoo, TEMPORAL, ("d", "t"))
    times = {t for _, t in rows.values() if t is not None}
    assert all(isinstance(t, dt.timedelta) for t in times)
    assert dt.timedelta(hours=26) in times  # not wrapped to 02:00:00
    assert dt.timedelta(hours=-838, minutes=-59, seconds=-59) in times
    assert rows[3][0] == "0000-00-00"  # the zero date, as the database holds it
    beyond = zoo.select(Select(TEMPORAL, ("id",), (Condition("t", "gt", dt.timedelta(hours=24)),)))
    assert beyond and all(rows[r[0]][1] > dt.timedelta(hours=24) for r in beyond)
    _check_walks(zoo, TEMPORAL, ("t", "d"))


def test_postgresql_values_python_cannot_hold_come_back_as_text(zoo: SQLAlchemySource) -> None:
    if zoo.dialect != "postgresql":
        pytest.skip("PostgreSQL's infinity, BC dates and 24:00:00")
    by_what = {what: (d, t, ts, tstz) for d, t, ts, tstz, what in
               _all(zoo, EDGES, ("d", "t", "ts", "tstz", "what")).values()}  # fmt: skip
    assert by_what["date infinity"][0] == "infinity"
    assert by_what["date BC"][0] == "0044-03-15 BC"
    assert by_what["time 24:00"][1] == "24:00:00"
    assert by_what["timestamptz -infinity"][3] == "-infinity"
    assert by_what["date year 1"][0] == dt.date(1, 1, 1)  # what Python holds stays typed
    _check_walks(zoo, EDGES, ("d", "t", "ts"))


def test_sqlite_values_come_back_as_stored_where_they_are_not_their_type(
    zoo: SQLAlchemySource,
) -> None:
    if zoo.dialect != "sqlite":
        pytest.skip("SQLite's affinities")
    rows = _all(zoo, TEMPORAL, ("d_iso", "d_text", "d_int", "ts_unix"))
    d_iso, d_text, d_int, ts_unix = rows[1]
    assert isinstance(d_iso, dt.date)  # ISO text still reads as a date
    assert isinstance(d_text, str) and "/" in d_text
    assert isinstance(d_int, int) and isinstance(ts_unix, int)
    flags = _all(zoo, SCALARS, ("flag", "flag_tf"))
    assert {f for f, _ in flags.values()} == {True, False, None}
    assert {f for _, f in flags.values()} == {"t", "f", None}  # 'f' is not read as true
    stored = _direct(zoo, "SELECT id FROM scalars WHERE flag_tf = 't'")
    found = zoo.select(Select(SCALARS, ("id",), (Condition("flag_tf", "eq", True),)))
    assert sorted(r[0] for r in found) == sorted(r[0] for r in stored) != []
    _check_walks(zoo, TEMPORAL, ("d_text", "d_mixed", "ts_unix"))
    _check_walks(zoo, SCALARS, ("flag_tf",))
