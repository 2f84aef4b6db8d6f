"""Shared fixtures: real legacy databases on SQLite, PostgreSQL and MariaDB.

Each test session creates its own databases (named lw_test_<pid>_<random>) and
drops them at the end. A backend whose server is unreachable is skipped on a
developer machine but fails the run under CI (CI=true), where all three exist.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fixtures import awkward
from fixtures.databases import BACKENDS, backend_available, temporary_database
from wrapper.app import create_app
from wrapper.demo import plant

from .support.demo import demo_config

DEMO_ORDERS = 300


def require_backend(backend: str) -> None:
    reason = backend_available(backend)
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test every backend: {reason}")
        pytest.skip(reason)


def require_odbc_driver(backend: str) -> None:
    """Skip (fail under CI) when the ODBC driver for `backend` is not installed."""
    from fixtures.odbc import driver_missing

    reason = driver_missing(backend)
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test every ODBC driver: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    require_backend(request.param)
    return request.param


@pytest.fixture(scope="session")
def demo_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo plant database plus the awkward schema, built once per backend."""
    with temporary_database(backend, tmp_path_factory.mktemp(backend)) as url:
        plant.build(url, orders=DEMO_ORDERS)
        awkward.build(url)
        yield url


@pytest.fixture(scope="session")
def app(demo_url: str) -> Iterator[Flask]:
    app = create_app(demo_config(demo_url), no_auth=True)
    yield app
    app.extensions["legacy_wrapper"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def legacy(demo_url: str) -> Iterator[sa.Engine]:
    """A direct, writable connection to the legacy database: the legacy application."""
    engine = sa.create_engine(demo_url)
    yield engine
    engine.dispose()


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the session's backend for tests that change data."""
    with temporary_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def redis_url() -> str:
    """The loopback Redis (LW_TEST_REDIS_URL); skipped when absent, failed under CI."""
    import redis

    url = os.environ.get("LW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test with Redis: {err}")
        pytest.skip(f"Redis at {url} is not reachable: {err}")
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix unique to this test; every key under it is deleted afterwards."""
    import secrets

    import redis

    prefix = f"lwtest-{os.getpid()}-{secrets.token_hex(4)}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
