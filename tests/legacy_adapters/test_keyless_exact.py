"""A keyless table is paged over all its columns, and the caller counts the rows
equal to the cursor that it has already returned (`Select.skip`), comparing
values as Python does. On MariaDB's default collation `abc`, `ABC` and `abc `
are equal in SQL (so are `abc` and `ABC` under SQLite's NOCASE): the source
compares such a sort exactly (by bytes), so a walk returns every row once, on
every backend."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.databases import temporary_database
from legacy_adapters.base import Order, Select, TableRef
from legacy_adapters.sql import SQLAlchemySource

LOG = TableRef("case_log")
WORDS = ("abc", "ABC", "Abc", "abC", "straße", "STRASSE", "Straße", "é", "É", "e")


def _rows() -> list[tuple[str, str]]:
    rows = []
    for n in range(90):
        code = WORDS[n % len(WORDS)]
        label = ("x", "X", "x ")[n % 3]  # trailing space: equal under PAD SPACE
        rows.append((code, label))
    return rows + rows[:25]  # exact duplicates too


@pytest.fixture(scope="module")
def source(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLAlchemySource]:
    tmp: Path = tmp_path_factory.mktemp(f"keyless-{backend}")
    with temporary_database(backend, tmp) as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            # the database's default collation (MariaDB: case-insensitive); SQLite's
            # case-insensitive one declared
            nocase = " COLLATE NOCASE" if backend == "sqlite" else ""
            conn.exec_driver_sql(
                f"CREATE TABLE case_log (code VARCHAR(10){nocase} NOT NULL, label VARCHAR(4))"
            )
            conn.exec_driver_sql("CREATE INDEX ix_case_log_code ON case_log (code)")
            table = sa.table("case_log", sa.column("code"), sa.column("label"))
            conn.execute(table.insert(), [{"code": c, "label": lb} for c, lb in _rows()])
        engine.dispose()
        src = SQLAlchemySource(url)
        src.reflect(tables=[LOG])
        try:
            yield src
        finally:
            src.close()


def _skip(page: list[tuple], after: tuple | None, skip: int) -> int:
    """Rows equal to the page's last row returned so far (as the facade counts them)."""
    last = page[-1]
    run = 0
    for row in reversed(page):
        if row != last:
            break
        run += 1
    return run + skip if run == len(page) and after == last else run


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 4, 10])
def test_a_keyless_walk_returns_every_row_once(
    source: SQLAlchemySource, descending: bool, limit: int
) -> None:
    order = (Order("code", descending), Order("label", descending))
    walked: list[tuple] = []
    after, skip = None, 0
    for _ in range(1000):
        page = source.select(
            Select(LOG, ("code", "label"), (), order, after=after, skip=skip, limit=limit)
        )
        walked += [tuple(r) for r in page]
        if len(page) < limit:
            break
        skip = _skip([tuple(r) for r in page], after, skip)
        after = tuple(page[-1])
    assert Counter(walked) == Counter(_rows())


def test_a_sort_that_can_tie_is_compared_by_bytes_where_collations_fold(
    source: SQLAlchemySource,
) -> None:
    """MariaDB's collation and SQLite's NOCASE fold case: a keyless sort goes by
    bytes there; PostgreSQL's comparisons are exact already."""
    stmt, _ = source.build(Select(LOG, ("code",), (), (Order("code"), Order("label")), limit=5))
    sql = str(stmt.compile(dialect=source.engine.dialect)).upper()
    assert ("AS BINARY" in sql) == (source.dialect == "mysql")
    assert ('COLLATE "BINARY"' in sql) == (source.dialect == "sqlite")
