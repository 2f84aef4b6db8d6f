"""The SQLAlchemy source through a database outage, on the real PostgreSQL and
MariaDB behind a loopback proxy that refuses or hangs: every call ends with a
`SourceError` instead of waiting for ever, and the same source works again once
the database is back (stale pooled connections, reflection put off at start)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from legacy_adapters.base import Select, SourceTimeout, SourceUnavailable, TableRef
from legacy_adapters.bulkhead import Bulkhead
from legacy_adapters.sql import SQLAlchemySource

from ..support.outages import FaultProxy

JOBS = Select(TableRef("JOBSCHED"), ("JOB_NO",), limit=3)
GIVE_UP = 30  # seconds: far beyond the bounds below; reaching it means a call hung


@pytest.fixture
def proxy(demo_url: str) -> Iterator[FaultProxy]:
    url = make_url(demo_url)
    if url.get_backend_name() == "sqlite":
        pytest.skip("a SQLite file has no network path to break")
    with FaultProxy(url.host or "127.0.0.1", url.port or 0) as fault:
        yield fault


@pytest.fixture
def source(demo_url: str, proxy: FaultProxy) -> Iterator[SQLAlchemySource]:
    url = make_url(demo_url).set(host="127.0.0.1", port=proxy.port)
    src = SQLAlchemySource(url.render_as_string(hide_password=False), statement_timeout=1)
    yield src
    src.close()


def outcome(call: Callable[[], Any]) -> Any:
    """What `call` returned or raised, failing the test when it does not end."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(call())
        except Exception as err:
            result.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GIVE_UP)
    assert result, f"the call was still waiting after {GIVE_UP} s"
    return result[0]


def test_a_hung_database_ends_queries_pings_and_reflection(
    source: SQLAlchemySource, proxy: FaultProxy
) -> None:
    assert len(source.reflect(tables=[TableRef("JOBSCHED")]).tables) == 1
    assert len(source.select(JOBS)) == 3  # a pooled connection exists
    proxy.set("hang")
    assert isinstance(outcome(lambda: source.select(JOBS)), SourceTimeout)  # pooled connection
    assert isinstance(outcome(lambda: source.select(JOBS)), SourceTimeout)  # new connection
    assert isinstance(outcome(source.ping), SourceUnavailable)
    failed = outcome(lambda: source.reflect(tables=[TableRef("JOBSCHED")]))
    assert isinstance(failed, SourceUnavailable)
    proxy.set("forward")
    assert len(outcome(lambda: source.select(JOBS))) == 3


def test_a_refusing_database_fails_fast_and_comes_back(
    source: SQLAlchemySource, proxy: FaultProxy
) -> None:
    source.reflect(tables=[TableRef("JOBSCHED")])
    assert len(source.select(JOBS)) == 3
    proxy.set("refuse")
    failed = outcome(lambda: source.select(JOBS))
    assert isinstance(failed, SourceUnavailable) and not isinstance(failed, SourceTimeout)
    assert isinstance(outcome(source.ping), SourceUnavailable)
    proxy.set("forward")
    assert len(source.select(JOBS)) == 3


def test_a_restarted_database_costs_no_failed_request(
    source: SQLAlchemySource, proxy: FaultProxy
) -> None:
    source.reflect(tables=[TableRef("JOBSCHED")])
    assert len(source.select(JOBS)) == 3
    proxy.set("refuse")  # every open connection is cut, as by a restart
    proxy.set("forward")
    assert len(source.select(JOBS)) == 3  # the stale pooled connection is replaced


def test_reflection_put_off_by_an_outage_is_done_by_the_first_query(
    source: SQLAlchemySource, proxy: FaultProxy
) -> None:
    guarded = Bulkhead(source, size=2, wait=1)  # how the facade holds every source
    proxy.set("refuse")
    failed = outcome(lambda: guarded.reflect(tables=[TableRef("JOBSCHED")]))
    assert isinstance(failed, SourceUnavailable)
    assert isinstance(outcome(lambda: guarded.select(JOBS)), SourceUnavailable)
    proxy.set("forward")
    assert len(guarded.select(JOBS)) == 3
