"""The public sample databases load as published, on every backend they exist for."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from fixtures import corpus
from fixtures.databases import backend_available, temporary_database


def _require(backend: str) -> None:
    reason = backend_available(backend)
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module", params=sorted(corpus.DATABASES), ids="-".join)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[corpus.CorpusDatabase, sa.Engine]]:
    name, backend = request.param
    _require(backend)
    with temporary_database(backend, tmp_path_factory.mktemp(backend)) as url:
        corpus.load(name, url)
        engine = sa.create_engine(url)
        try:
            yield corpus.database(name, backend), engine
        finally:
            engine.dispose()


def test_every_table_holds_its_published_rows(
    loaded: tuple[corpus.CorpusDatabase, sa.Engine],
) -> None:
    database, engine = loaded
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) == set(database.rows)
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect() as conn:
        counts = {
            table: conn.exec_driver_sql(f"SELECT COUNT(*) FROM {quote(table)}").scalar_one()
            for table in database.rows
        }
    assert counts == dict(database.rows)
    assert database.licence.is_file()


def test_keys_and_foreign_keys_are_declared(
    loaded: tuple[corpus.CorpusDatabase, sa.Engine],
) -> None:
    database, engine = loaded
    inspector = sa.inspect(engine)
    keyed = [t for t in database.rows if inspector.get_pk_constraint(t)["constrained_columns"]]
    assert keyed == list(database.rows)  # every table of both samples has a primary key
    foreign_keys = sum(len(inspector.get_foreign_keys(t)) for t in database.rows)
    assert foreign_keys == {"chinook": 11, "northwind": 13}[database.name]


_CHINOOK_PG = {
    "SELECT name FROM artist WHERE artist_id = 1": "AC/DC",
    "SELECT name FROM artist WHERE artist_id = 71": "Vinícius De Moraes & Baden Powell",
    "SELECT CAST(SUM(total) AS CHAR(10)) FROM invoice": "2328.60",
    "SELECT CAST(hire_date AS CHAR(10)) FROM employee WHERE employee_id = 1": "2002-08-14",
}
_CHINOOK_CAMEL = {
    "SELECT Name FROM Artist WHERE ArtistId = 1": "AC/DC",
    "SELECT Name FROM Artist WHERE ArtistId = 71": "Vinícius De Moraes & Baden Powell",
    "SELECT SUBSTR(CAST(HireDate AS CHAR(20)), 1, 10) FROM Employee WHERE EmployeeId = 1": (
        "2002-08-14"
    ),
}
SPOT_VALUES = {
    ("chinook", "postgresql"): _CHINOOK_PG,
    ("chinook", "mariadb"): _CHINOOK_CAMEL | {"SELECT SUM(Total) FROM Invoice": "2328.60"},
    # SQLite stores NUMERIC(10,2) as REAL: compare at cent precision.
    ("chinook", "sqlite"): _CHINOOK_CAMEL | {"SELECT ROUND(SUM(Total), 2) FROM Invoice": "2328.6"},
    ("northwind", "postgresql"): {
        "SELECT company_name FROM customers WHERE customer_id = 'ALFKI'": "Alfreds Futterkiste",
        "SELECT company_name FROM customers WHERE customer_id = 'BERGS'": "Berglunds snabbköp",
        "SELECT CAST(SUM(quantity) AS CHAR(10)) FROM order_details": "51317",
        "SELECT CAST(order_date AS CHAR(10)) FROM orders WHERE order_id = 10248": "1996-07-04",
        "SELECT CAST(COUNT(picture) AS CHAR(10)) FROM categories": "8",
    },
}


def test_spot_values(loaded: tuple[corpus.CorpusDatabase, sa.Engine]) -> None:
    database, engine = loaded
    checks = SPOT_VALUES[(database.name, database.backend)]
    with engine.connect() as conn:
        found = {sql: str(conn.exec_driver_sql(sql).scalar_one()).rstrip() for sql in checks}
    assert found == checks


def test_scripts_lose_only_their_own_database_lines() -> None:
    pg = corpus.script_body(corpus.database("chinook", "postgresql").path)
    my = corpus.script_body(corpus.database("chinook", "mariadb").path)
    nw_path = corpus.database("northwind", "postgresql").path
    assert "CREATE DATABASE" not in pg and "\\c" not in pg
    assert "CREATE DATABASE" not in my and "USE `Chinook`" not in my
    assert pg.lstrip().startswith("/*") and "CREATE TABLE album" in pg
    assert corpus.script_body(nw_path) == nw_path.read_text(encoding="utf-8")


def test_a_database_loads_only_into_its_backend(tmp_path: pathlib.Path) -> None:
    with temporary_database("sqlite", tmp_path) as url:
        with pytest.raises(ValueError, match="no 'northwind' for sqlite"):
            corpus.load("northwind", url)
        with pytest.raises(ValueError, match="cannot load into sqlite"):
            corpus.database("chinook", "postgresql").load(url)
