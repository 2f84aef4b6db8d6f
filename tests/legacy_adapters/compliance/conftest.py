"""One `source` fixture over every adapter: the in-memory source (the executable
definition), the SQLAlchemy source on SQLite, PostgreSQL and MariaDB, and the
ODBC source on the same three databases through their ODBC drivers, and the
files source over DBF exports of it, each holding the compliance data set. Tests skip by declared capability, never by
adapter name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures import odbc
from fixtures.databases import temporary_database
from legacy_adapters.base import Source
from legacy_adapters.memory import MemorySource

from ...conftest import require_backend, require_odbc_driver
from . import dataset

ADAPTERS = (
    "memory",
    "sqlite",
    "postgresql",
    "mariadb",
    "odbc-sqlite",
    "odbc-postgresql",
    "odbc-mariadb",
    "files",
)


@pytest.fixture(scope="session", params=ADAPTERS)
def source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Source]:
    kind = request.param
    if kind == "memory":
        yield MemorySource(dataset.table_infos())
        return
    if kind == "files":
        from . import files_export

        files = files_export.build(tmp_path_factory.mktemp("compliance-files"))
        yield files
        files.close()
        return
    from legacy_adapters.sql import SQLAlchemySource

    backend = kind.removeprefix("odbc-")
    require_backend(backend)
    if kind.startswith("odbc-"):
        require_odbc_driver(backend)
    with temporary_database(backend, tmp_path_factory.mktemp(f"compliance-{kind}")) as url:
        dataset.build_sql(url)
        src: Source
        if kind.startswith("odbc-"):
            from legacy_adapters.odbc import OdbcSource

            src = OdbcSource(odbc.connection_string(url))
        else:
            src = SQLAlchemySource(url)
        src.reflect(tables=list(dataset.ROWS))
        try:
            yield src
        finally:
            src.close()


@pytest.fixture(scope="session")
def reference() -> MemorySource:
    """The definition every adapter is compared with."""
    return MemorySource(dataset.table_infos())
