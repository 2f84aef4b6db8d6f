"""The demo plant database and the awkward schema of each backend, reached
through its ODBC driver, beside the SQLAlchemy source on the same database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures import odbc
from legacy_adapters.odbc import OdbcSource
from legacy_adapters.sql import SQLAlchemySource

from ...conftest import require_odbc_driver


@pytest.fixture(scope="session")
def odbc_url(backend: str, demo_url: str) -> str:
    require_odbc_driver(backend)
    return odbc.connection_string(demo_url)


@pytest.fixture(scope="session")
def odbc_source(odbc_url: str) -> Iterator[OdbcSource]:
    src = OdbcSource(odbc_url)
    yield src
    src.close()


@pytest.fixture(scope="session")
def sqlalchemy_source(demo_url: str) -> Iterator[SQLAlchemySource]:
    src = SQLAlchemySource(demo_url)
    yield src
    src.close()
