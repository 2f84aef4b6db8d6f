"""The shared response cache: hits, isolation between callers, request coalescing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.datastructures import MultiDict

from wrapper.access import EVERYTHING, Access, RowFilter
from wrapper.app import create_app
from wrapper.auth.policy import Policy
from wrapper.auth.principal import Principal
from wrapper.demo import MAPPING

from ..support.demo import demo_config


def cached_mapping(storage: str = "memory://", prefix: str = "lw-cache") -> str:
    """The demo mapping with v1 orders cached 30 s and v1 jobs 2 s."""
    text = MAPPING.read_text(encoding="utf-8")
    text = text.replace(
        "        table: ORDHDR\n", "        table: ORDHDR\n        cache: {max_age: 30}\n", 1
    )
    text = text.replace(
        "        table: JOBSCHED\n", "        table: JOBSCHED\n        cache: {max_age: 2}\n", 1
    )
    return text.replace(
        "\nversions:", f"\ncache: {{storage: '{storage}', key_prefix: {prefix}}}\nversions:", 1
    )


@pytest.fixture
def cached_app(demo_url: str) -> Iterator[Flask]:
    app = create_app(demo_config(demo_url, cached_mapping()), no_auth=True)
    yield app
    app.extensions["legacy_wrapper"].close()


@contextmanager
def counted(app: Flask, delay: float = 0.0) -> Iterator[list[str]]:
    """Legacy SELECTs run while inside, each optionally slowed by `delay`."""
    engine = app.extensions["legacy_wrapper"].source.inner.engine
    statements: list[str] = []
    lock = threading.Lock()

    def hook(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            with lock:
                statements.append(statement)
            time.sleep(delay)

    sa.event.listen(engine, "before_cursor_execute", hook)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", hook)


def test_identical_requests_are_served_from_the_cache(cached_app: Flask) -> None:
    client = cached_app.test_client()
    with counted(cached_app) as statements:
        first = client.get("/v1/orders?status=open&limit=5")
        for _ in range(5):
            again = client.get("/v1/orders?status=open&limit=5")
            assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
        client.get("/v1/orders?limit=5&status=open")  # same query, other argument order
        assert len(statements) == 1
        client.get("/v1/orders?status=open&limit=6")
        assert len(statements) == 2
        client.get("/v1/customers?limit=5")  # not cached: every request reads
        client.get("/v1/customers?limit=5")
        assert len(statements) == 4
    assert first.headers["Cache-Control"] == "public, max-age=30"
    assert client.get("/v1/jobs?limit=1").headers["Cache-Control"] == "public, max-age=2"
    assert "Cache-Control" not in client.get("/v1/customers?limit=1").headers
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'lw_cache_requests_total{resource="v1/orders",result="hit"} 6.0' in metrics


def test_errors_are_not_cached(cached_app: Flask) -> None:
    client = cached_app.test_client()
    assert client.get("/v1/orders/NOPE").status_code == 404
    with counted(cached_app) as statements:
        assert client.get("/v1/orders/NOPE").status_code == 404
    assert len(statements) == 1


def test_two_customers_with_identical_queries_never_share_rows(cached_app: Flask) -> None:
    state = cached_app.extensions["legacy_wrapper"]
    orders = state.mapping.resource("v1", "orders")
    args = MultiDict({"limit": "1000"})
    everything = state.read.list(orders, EVERYTHING, args, "", "/v1/orders")[0]["data"]
    a, b = sorted({o["customer_no"] for o in everything})[:2]
    policy = Policy(state.mapping)

    def as_customer(customer: str) -> Access:
        caller = Principal(
            f"user-{customer}", frozenset({"orders:read"}), {"customer_no": customer}
        )
        return policy.grants(caller, "v1").access

    # The app serves without auth here: call the Responder the views use with each
    # customer's Access directly.
    responder = state.respond
    with counted(cached_app) as statements:
        seen = {}
        for _ in range(2):
            for customer in (a, b):
                access = as_customer(customer)
                with cached_app.test_request_context("/v1/orders?limit=1000"):
                    response = responder(
                        orders,
                        access,
                        lambda a=access: state.read.list(orders, a, args, "", "/v1/orders"),
                    )
                seen[customer] = {o["customer_no"] for o in response.get_json()["data"]}
                assert response.headers["Cache-Control"] == "private, max-age=30"
        assert seen == {a: {a}, b: {b}}
        assert len(statements) == 2  # one per customer; the repeats were hits


def _concurrently(app: Flask, url: str, n: int) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def one(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        results[i] = client.get(url)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.parametrize("storage", ["memory", "redis"])
def test_concurrent_identical_requests_cause_one_legacy_query(
    demo_url: str, storage: str, request: pytest.FixtureRequest
) -> None:
    if storage == "redis":
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        text = cached_mapping(url, prefix)
    else:
        text = cached_mapping()
    text = text.replace("  pool_size: 4\n", "  pool_size: 20\n")
    app = create_app(demo_config(demo_url, text), no_auth=True)
    try:
        with counted(app, delay=0.3) as statements:
            responses = _concurrently(app, "/v1/orders?status=shipped&limit=20", 16)
        assert [r.status_code for r in responses] == [200] * 16
        assert len({r.data for r in responses}) == 1
        metrics = app.test_client().get("/metrics").get_data(as_text=True)
        assert len(statements) == 1, [m for m in metrics.splitlines() if "cache" in m]
        assert 'lw_cache_requests_total{resource="v1/orders",result="coalesced"} 15.0' in metrics
    finally:
        app.extensions["legacy_wrapper"].close()


def test_entries_expire_after_max_age(cached_app: Flask) -> None:
    client = cached_app.test_client()
    with counted(cached_app) as statements:
        client.get("/v1/jobs?status=held&limit=3")
        client.get("/v1/jobs?status=held&limit=3")
        assert len(statements) == 1
        time.sleep(2.1)
        client.get("/v1/jobs?status=held&limit=3")
        assert len(statements) == 2


def test_embedded_rows_are_part_of_the_scope(cached_app: Flask) -> None:
    """Two callers with the same orders rules but different customers rules must not
    share `/v1/orders?expand=customer`: the embedded customer is filtered too."""
    state = cached_app.extensions["legacy_wrapper"]
    orders = state.mapping.resource("v1", "orders")
    url = "/v1/orders?limit=3&expand=customer"
    args = MultiDict({"limit": "3", "expand": "customer"})
    with cached_app.test_request_context(url):
        first = state.read.list(orders, EVERYTHING, args, "", "/v1/orders")[0]["data"][0]
    hide = (RowFilter("customer_no", ("NOBODY",), "customer_no"),)
    callers = [
        Access(private=True),
        Access(rows={"customers": hide}, scope_keys={"customers": "nobody"}, private=True),
    ]
    customers_seen = []
    for access in callers:
        with cached_app.test_request_context(url):
            response = state.respond(
                orders, access, lambda a=access: state.read.list(orders, a, args, "", "/v1/orders")
            )
        customers_seen.append(response.get_json()["data"][0]["customer"])
    assert customers_seen[0]["customer_no"] == first["customer_no"]
    assert customers_seen[1] is None


def test_the_memory_store_forgets_expired_entries() -> None:
    from wrapper.caching import MemoryStore
    from wrapper.conditional import make_entity

    store = MemoryStore(wait=1, max_entries=3)
    for i in range(5):
        store.put(f"k{i}", make_entity(b"x"), ttl=60)
    assert len(store._entries) == 3 and store.peek("k4") is not None
    store.put("short", make_entity(b"y"), ttl=0.05)
    time.sleep(0.1)
    store._next_prune = 0.0
    _, result = store.fetch("k9", 60, lambda: make_entity(b"z"))
    assert result == "miss" and store.peek("short") is None and "short" not in store._entries


def test_an_unreachable_redis_serves_uncached() -> None:
    from wrapper.caching import RedisStore
    from wrapper.conditional import make_entity

    store = RedisStore("redis://127.0.0.1:1/0", "lw-nowhere", wait=1)
    entity, result = store.fetch("k", 2, lambda: make_entity(b"fresh"))
    assert result == "bypass" and entity.body == b"fresh"
