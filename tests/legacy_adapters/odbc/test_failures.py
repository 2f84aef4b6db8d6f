"""Failures end in a clear error or a 503-class error, never a hang: a driver
that is not installed, a wrong DSN, no server, a missing secret, a query that
runs too long, a pool that stays full, a database that goes away."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures import odbc
from fixtures.databases import temporary_database
from legacy_adapters.base import Select, SourceTimeout, SourceUnavailable, TableRef
from legacy_adapters.odbc import OdbcSource
from legacy_adapters.odbc.errors import DriverNotFound

from ...conftest import require_backend, require_odbc_driver
from ...support.servers import free_port

SLOW = TableRef("LW_SLOW")
SLOW_VIEWS = {
    "sqlite": (
        'CREATE VIEW "LW_SLOW" AS WITH RECURSIVE c(x) AS '
        "(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000) SELECT count(*) AS n FROM c"
    ),
    "postgresql": 'CREATE VIEW "LW_SLOW" AS SELECT 1 AS n FROM pg_sleep(60)',
    "mariadb": "CREATE VIEW LW_SLOW AS SELECT SLEEP(60) AS n",
}


def test_a_driver_that_is_not_installed() -> None:
    source = OdbcSource("odbc:DRIVER={No Such Driver};Database=plant.db")
    with pytest.raises(DriverNotFound, match="No Such Driver") as err:
        source.ping()
    assert "legacy-wrapper drivers" in str(err.value)
    source.close()


def test_a_wrong_dsn() -> None:
    source = OdbcSource("odbc:DSN=NO_SUCH_PLANT")
    with pytest.raises(DriverNotFound, match="DSN=NO_SUCH_PLANT"):
        source.reflect()
    source.close()


def test_no_server_listening() -> None:
    require_odbc_driver("postgresql")
    port = free_port()
    source = OdbcSource(
        f"odbc:DRIVER={{PostgreSQL Unicode}};Server=127.0.0.1;Port={port};Database=x;UID=u;PWD=pw"
    )
    with pytest.raises(SourceUnavailable) as err:
        source.ping()
    assert not isinstance(err.value, DriverNotFound)
    assert "pw" not in str(err.value).replace("PWD", "")
    source.close()


def test_a_secret_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_odbc_driver("sqlite")
    database = tmp_path / "plant.db"
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE "T" ("A" INTEGER PRIMARY KEY)')
    engine.dispose()
    with pytest.raises(SourceUnavailable, match="LW_TEST_PLANT_DB"):
        OdbcSource("odbc:DRIVER={SQLite3};Database=${LW_TEST_PLANT_DB}")
    monkeypatch.setenv("LW_TEST_PLANT_DB", str(database))
    source = OdbcSource("odbc:DRIVER={SQLite3};Database=${LW_TEST_PLANT_DB}")
    assert [t.ref.name for t in source.reflect().tables] == ["T"]
    source.close()


@pytest.fixture
def slow_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of the session's backend with a view that takes a minute to read."""
    require_odbc_driver(backend)
    with temporary_database(backend, tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql(SLOW_VIEWS[backend])
        engine.dispose()
        yield odbc.connection_string(url)


def test_a_query_that_runs_too_long_times_out(slow_url: str) -> None:
    source = OdbcSource(slow_url, statement_timeout=1)
    try:
        source.reflect(tables=[SLOW])
        with pytest.raises(SourceTimeout):
            source.select(Select(SLOW, ("n",)))
        source.ping()  # the source goes on working
    finally:
        source.close()


def test_a_full_pool_times_out(slow_url: str) -> None:
    source = OdbcSource(slow_url, pool_size=1, pool_timeout=0.2, statement_timeout=3)
    try:
        source.reflect(tables=[SLOW])
        errors: list[Exception] = []

        def hold() -> None:
            try:
                source.select(Select(SLOW, ("n",)))
            except Exception as err:
                errors.append(err)

        holder = threading.Thread(target=hold)
        holder.start()
        for _ in range(500):
            if source._pool.busy():
                break
            time.sleep(0.01)
        with pytest.raises(SourceTimeout, match="became free"):
            source.ping()
        holder.join()
        assert [type(e) for e in errors] == [SourceTimeout]
    finally:
        source.close()


@pytest.fixture
def postgresql_url(tmp_path: Path) -> Iterator[str]:
    require_backend("postgresql")
    require_odbc_driver("postgresql")
    with temporary_database("postgresql", tmp_path) as url:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql(SLOW_VIEWS["postgresql"])
        engine.dispose()
        yield url


def _admin(url: str, statement: str) -> None:
    engine = sa.create_engine(
        sa.make_url(url).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.NullPool,
    )
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def _terminate(url: str) -> None:
    name = sa.make_url(url).database
    _admin(
        url,
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
        "AND pid <> pg_backend_pid()",
    )


def test_dropped_connections_are_replaced(postgresql_url: str) -> None:
    source = OdbcSource(odbc.connection_string(postgresql_url), pool_size=2)
    try:
        source.ping()
        _terminate(postgresql_url)
        source.ping()  # retried once on a new connection
    finally:
        source.close()


def test_a_database_that_goes_away_mid_request(postgresql_url: str) -> None:
    name = sa.make_url(postgresql_url).database
    source = OdbcSource(odbc.connection_string(postgresql_url), statement_timeout=60)
    try:
        source.reflect(tables=[SLOW])
        errors: list[Exception] = []

        def read() -> None:
            try:
                source.select(Select(SLOW, ("n",)))
            except Exception as err:
                errors.append(err)

        reader = threading.Thread(target=read)
        reader.start()
        for _ in range(500):
            if source._pool.busy():
                break
            time.sleep(0.01)
        time.sleep(0.2)
        _admin(postgresql_url, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        try:
            _terminate(postgresql_url)
            reader.join(timeout=30)
            assert not reader.is_alive()
            assert len(errors) == 1 and isinstance(errors[0], SourceUnavailable)
            assert not isinstance(errors[0], SourceTimeout)
            with pytest.raises(SourceUnavailable):
                source.ping()
        finally:
            _admin(postgresql_url, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        source.ping()  # back when the database is
    finally:
        source.close()
