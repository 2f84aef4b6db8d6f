"""Whatever callers ask for, a worker's memory stays bounded: 10,000 requests, each
with its own `fields=`/`sort=` combination and its own credentials, leave the
planner's, the renderer's, the policy's and the token validator's caches at or
under their bounds, and memory flat once they are full."""

from __future__ import annotations

import gc
import itertools
import sys
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from wrapper.app import create_app
from wrapper.auth.policy import Policy
from wrapper.mapping import rendering

from ..support.demo import build_demo, demo_config
from ..support.tokens import bearer, shared_issuer, shared_token

REQUESTS = 10_000
WARM_UP = 7_000  # by then every cache below has been filled past its bound
GROWTH_LIMIT = 20_000  # allocated memory blocks, over the last 3,000 requests: generous
POLICY_BOUND = 2_000  # below REQUESTS, so that the policy's cache must evict too
TOKEN_BOUND = 500
KEPT_ROWS = 300  # rendered rows kept, all renderers together (3 rows a request here)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    folder = tmp_path_factory.mktemp("bounded")
    url = build_demo(folder, orders=40)
    extra = f"""
auth:
  audience: plant-api
  token_cache_size: {TOKEN_BOUND}
  issuers: [{shared_issuer()}]
"""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rendering, "ROW_MEMO_ROWS", KEPT_ROWS)
        app = create_app(demo_config(url, extra=extra))
        yield app
    app.extensions["legacy_wrapper"].close()


def caches(app: Flask) -> dict[str, Callable[[], tuple[int, int]]]:
    """Every cache a caller can grow by varying its requests or credentials, as
    (entries, bound) now."""
    state, guard = app.extensions["legacy_wrapper"], app.extensions["legacy_wrapper_auth"]
    layouts = state.read.planner._layouts
    renderers = state.read.reader.renderers._cache
    kept = state.read.reader.renderers.kept
    source = state.sources["default"].inner
    statements = source._statements  # the adapter's, by query shape
    return {
        "planned layouts": lambda: (len(layouts), layouts.size),
        "compiled renderers": lambda: (len(renderers), renderers.size),
        "kept rows": lambda: (len(kept), rendering.ROW_MEMO_ROWS),
        "kept plans": lambda: (len(state.read._planned), state.read._planned.size),
        "policy grants": lambda: (len(guard.policy._grants), guard.policy._grants.size),
        "policy views": lambda: (len(guard.policy._views), guard.policy._views.size),
        "validated tokens": lambda: (len(guard.tokens._cache), guard.tokens.cache_size),
        "legacy statements": lambda: (len(statements._items), statements.maxsize),
        "compiled statements": lambda: (len(source._compiled), statements.maxsize),
    }


def combinations(fields: list[str]) -> Iterator[tuple[str, str]]:
    """Distinct (fields=, sort=) pairs; the field list changes fastest."""
    lists = [",".join(p) for k in range(1, 6) for p in itertools.permutations(fields, k)]
    sorts = ["due_date", "-due_date", "job_id", "-job_id", "due_date,-job_id", "-due_date,job_id"]
    for sort in sorts:
        for names in lists:
            yield names, sort


def test_caches_stay_within_their_bounds_and_memory_stays_flat(app: Flask) -> None:
    state, guard = app.extensions["legacy_wrapper"], app.extensions["legacy_wrapper_auth"]
    guard.policy = Policy(state.mapping, cache_size=POLICY_BOUND)
    jobs = state.mapping.resource("v1", "jobs")
    pairs = list(itertools.islice(combinations([f.name for f in jobs.fields]), REQUESTS))
    assert len(set(pairs)) == REQUESTS
    client = app.test_client()
    bounded = caches(app)
    assert len({names for names, _ in pairs}) > bounded["compiled renderers"]()[1]
    assert REQUESTS > bounded["planned layouts"]()[1]
    assert REQUESTS > bounded["legacy statements"]()[1]

    for i, (names, sort) in enumerate(pairs):
        if i == WARM_UP:
            gc.collect()
            warm = sys.getallocatedblocks()
        # every caller its own credentials: WC01 plus a work centre of its own
        token = shared_token("jobs:read", sub=f"caller-{i}", work_center=["WC01", f"{i:04d}"])
        response = client.get(f"/v1/jobs?fields={names}&sort={sort}&limit=3", headers=bearer(token))
        assert response.status_code == 200, response.get_json()
        data = response.get_json()["data"]
        assert data and all(list(row) == names.split(",") for row in data)
        for name, measure in bounded.items():
            size, bound = measure()
            assert size <= bound, f"{name}: {size} entries, bound {bound}"
    gc.collect()
    grown = sys.getallocatedblocks() - warm
    # full, not merely small: each was filled past its bound and evicted
    for name in bounded.keys() - {"policy views", "kept rows"}:  # kept rows: let go when spent
        size, bound = bounded[name]()
        assert size == bound, f"{name}: {size} entries, bound {bound}"
    assert grown < GROWTH_LIMIT, f"{grown} more memory blocks after the warm-up"
