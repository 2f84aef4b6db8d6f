"""The SQLAlchemy source runs a select on the DBAPI cursor (a statement compiled
once) unless someone listens to the engine's cursor events; then SQLAlchemy runs
it. Both must give the same rows, typed alike, on every backend: dates, decimals,
padded CHAR, NULLs, `IN` lists of every length, keyset pages and composite `IN`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fixtures.databases import temporary_database
from legacy_adapters.base import Condition, Order, Select, SourceError, TableRef
from legacy_adapters.sql import SQLAlchemySource

from .compliance import dataset

ITEM_COLUMNS = ("ID", "NAME", "QTY", "PRICE", "DUE", "CODE", "SHIPPED", "OWNER_ID")
BY_ID = (Order("ID"),)
QUERIES = {
    "one row by key": Select(dataset.ITEMS, ITEM_COLUMNS, (Condition("ID", "eq", "I00007"),)),
    "a decimal and a date bound": Select(
        dataset.ITEMS,
        ITEM_COLUMNS,
        (
            Condition("PRICE", "gte", Decimal("100.50")),
            Condition("SHIPPED", "lt", dt.date(2026, 9, 1)),
        ),
        order_by=BY_ID,
        limit=20,
    ),
    "in lists of 1 and 3": Select(
        dataset.ITEMS,
        ITEM_COLUMNS,
        (Condition("CODE", "in", ("RN",)), Condition("QTY", "in", (7, 10, 20))),
        order_by=BY_ID,
    ),
    "in list of 5, not in list of 2": Select(
        dataset.ITEMS,
        ("ID", "CODE"),
        (
            Condition("ID", "in", tuple(f"I{n:05d}" for n in range(1, 6))),
            Condition("CODE", "not_in", ("HD", "DN")),
        ),
        order_by=BY_ID,
    ),
    "a keyset page": Select(
        dataset.ITEMS,
        ITEM_COLUMNS,
        (),
        order_by=(Order("DUE", True), Order("ID")),
        after=(20260215, "I00010"),
        limit=7,
    ),
    "a keyset page with a skip": Select(
        dataset.DUPS, ("A", "B"), (), order_by=(Order("A"), Order("B")), after=(1, "X"), skip=2
    ),
    "a composite in list": Select(
        dataset.PARTS,
        ("ITEM_ID", "LINE", "AMOUNT"),
        (Condition(("ITEM_ID", "LINE"), "in", (("I00001", 1), ("I00004", 2))),),
        order_by=(Order("ITEM_ID"), Order("LINE")),
    ),
}


@pytest.fixture(scope="module")
def database(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp(f"paths-{backend}")
    with temporary_database(backend, folder) as url:
        dataset.build_sql(url)
        yield url


@pytest.fixture(scope="module")
def source(database: str) -> Iterator[SQLAlchemySource]:
    src = SQLAlchemySource(database)
    src.reflect(tables=list(dataset.ROWS))
    yield src
    src.close()


def _through_sqlalchemy(source: SQLAlchemySource, query: Select) -> list[tuple[Any, ...]]:
    seen: list[str] = []

    def listen(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(source.engine, "before_cursor_execute", listen)
    try:
        rows = source.select(query)
    finally:
        sa.event.remove(source.engine, "before_cursor_execute", listen)
    assert seen, "the listener saw the statement"
    return [tuple(row) for row in rows]


@pytest.mark.parametrize("name", list(QUERIES))
def test_both_execution_paths_give_the_same_rows(source: SQLAlchemySource, name: str) -> None:
    query = QUERIES[name]
    direct = [tuple(row) for row in source.select(query)]
    expected = _through_sqlalchemy(source, query)
    assert direct, "the query finds rows"
    assert direct == expected
    for got, want in zip(direct, expected, strict=True):
        assert [type(v) for v in got] == [type(v) for v in want]
    assert [tuple(row) for row in source.select(query)] == direct  # compiled once, run again


def test_a_refused_statement_is_a_source_error_and_the_pool_still_serves(
    source: SQLAlchemySource, database: str
) -> None:
    gone = TableRef("GONE")
    table = sa.Table("GONE", sa.MetaData(), sa.Column("ID", sa.Integer, primary_key=True))
    writer = sa.create_engine(database, poolclass=sa.NullPool)
    try:
        with writer.begin() as conn:
            table.create(conn)
        source.reflect(tables=[gone])
        with writer.begin() as conn:
            table.drop(conn)
    finally:
        writer.dispose()
    with pytest.raises(SourceError):  # the driver's error, translated
        source.select(Select(gone, ("ID",), (Condition("ID", "eq", 1),)))
    assert source.select(QUERIES["one row by key"])
