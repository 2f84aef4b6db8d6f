"""API key checks: a refused key costs one state-database lookup per period, the
memory of keys is bounded, and a revocation still reaches the worker in time."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from wrapper.auth.apikeys import ApiKeyError, ApiKeyVerifier, create_api_key
from wrapper.state.store import ApiKeyRecord, Grant, StateStore


class CountingStore(StateStore):
    """The real state database, counting API key lookups."""

    lookups = 0

    def api_key(self, prefix: str) -> ApiKeyRecord | None:
        self.lookups += 1
        return super().api_key(prefix)


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    store = CountingStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield store
    store.close()


def unknown_key() -> str:
    return f"lwk_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_an_unknown_key_costs_one_lookup_per_period(store: CountingStore) -> None:
    clock = Clock()
    verifier = ApiKeyVerifier(store, cache_seconds=10, refused_seconds=60, clock=clock)
    key = unknown_key()
    for _ in range(50):
        with pytest.raises(ApiKeyError, match="not valid"):
            verifier.verify(key)
        clock.now += 1
    assert store.lookups == 1
    clock.now += 11  # 61 s after the first lookup
    with pytest.raises(ApiKeyError):
        verifier.verify(key)
    assert store.lookups == 2


def test_revoked_and_expired_keys_are_remembered_as_refused(store: CountingStore) -> None:
    clock = Clock()
    verifier = ApiKeyVerifier(store, cache_seconds=10, refused_seconds=60, clock=clock)
    grant = Grant(("jobs:read",), {})
    prefix, key = create_api_key(store, "erp", grant, expires_at=None)
    _, old = create_api_key(store, "old", grant, expires_at=clock.now - 1)
    store.revoke_api_key(prefix)
    for _ in range(5):
        with pytest.raises(ApiKeyError, match="revoked"):
            verifier.verify(key)
        with pytest.raises(ApiKeyError, match="expired"):
            verifier.verify(old)
    assert store.lookups == 2


def test_a_malformed_key_costs_no_lookup(store: CountingStore) -> None:
    verifier = ApiKeyVerifier(store)
    for junk in ("lwk_ABCDEF12_" + "a" * 43, "lwk_abcdef12_short", "lwk_abcdef1_" + "a" * 43):
        with pytest.raises(ApiKeyError):
            verifier.verify(junk)
    assert store.lookups == 0


def test_revocation_reaches_the_worker_within_cache_seconds(store: CountingStore) -> None:
    clock = Clock()
    verifier = ApiKeyVerifier(store, cache_seconds=10, refused_seconds=60, clock=clock)
    prefix, key = create_api_key(store, "erp", Grant(("jobs:read",), {}), expires_at=None)
    assert verifier.verify(key).subject == f"key:{prefix}"
    store.revoke_api_key(prefix)
    clock.now += 5
    assert verifier.verify(key).subject == f"key:{prefix}"  # remembered as accepted
    clock.now += 5
    with pytest.raises(ApiKeyError, match="revoked"):
        verifier.verify(key)


def test_the_memory_of_refused_keys_is_bounded(store: CountingStore) -> None:
    verifier = ApiKeyVerifier(store, refused_seconds=3600, cache_size=100)
    keys = [unknown_key() for _ in range(300)]
    for key in keys:
        with pytest.raises(ApiKeyError):
            verifier.verify(key)
    assert store.lookups == 300
    assert len(verifier._refused) == 100  # the most recent ones
    with pytest.raises(ApiKeyError):
        verifier.verify(keys[-1])
    assert store.lookups == 300
