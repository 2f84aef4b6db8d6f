"""One `source` fixture over every adapter: the in-memory source (the executable
definition) and the SQLAlchemy source on SQLite, PostgreSQL and MariaDB, each
holding the compliance data set. Tests skip by declared capability, never by
adapter name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures.databases import temporary_database
from legacy_adapters.base import Source
from legacy_adapters.memory import MemorySource

from ...conftest import require_backend
from . import dataset

ADAPTERS = ("memory", "sqlite", "postgresql", "mariadb")


@pytest.fixture(scope="session", params=ADAPTERS)
def source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Source]:
    kind = request.param
    if kind == "memory":
        yield MemorySource(dataset.table_infos())
        return
    from legacy_adapters.sqlalchemy_source import SQLAlchemySource

    require_backend(kind)
    with temporary_database(kind, tmp_path_factory.mktemp(f"compliance-{kind}")) as url:
        dataset.build_sql(url)
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
