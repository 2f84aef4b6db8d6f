"""A short-lived shared response cache with request coalescing.

Resources opt in with `cache: {max_age: N}` in the mapping. Entries are keyed
by the normalized request (path, sorted query arguments, host for the `Link`
header) and by the caller's row-level scope (`Access.scope_key`), so one
customer's rows are never served to another. N identical concurrent requests
cause one legacy query: the first caller runs it, the others wait for its
result (in-process: a future per key; Redis: a `SET NX` lock the waiters poll).

`memory://` serves one process; `redis://` shares entries and locks between
workers and hosts. When Redis fails, the cache steps aside (the request runs
uncached) rather than failing the request.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

import orjson
from flask import Response, request

from legacy_adapters.base import SourceTimeout
from wrapper.access import Access
from wrapper.conditional import Entity, make_entity, respond
from wrapper.config import Config, ResourceCacheConfig
from wrapper.mapping.model import Resource
from wrapper.metrics import Metrics

log = logging.getLogger(__name__)
Compute = Callable[[], Entity]
Rendered = Callable[[], tuple[Any, dict[str, str]]]  # a view's body and extra headers


class Store(Protocol):
    def fetch(self, key: str, ttl: float, compute: Compute) -> tuple[Entity, str]:
        """The entity for `key` and how it was found: hit, miss, coalesced or bypass."""
        ...


class MemoryStore:
    """In-process entries and one future per key being computed."""

    def __init__(self, wait: float, max_entries: int = 10_000) -> None:
        self.wait = wait
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Entity]] = {}
        self._inflight: dict[str, Future[Entity]] = {}

    def fetch(self, key: str, ttl: float, compute: Compute) -> tuple[Entity, str]:
        with self._lock:
            found = self._entries.get(key)
            if found and found[0] > time.monotonic():
                return found[1], "hit"
            future = self._inflight.get(key)
            leader = future is None
            if future is None:
                future = self._inflight[key] = Future()
        if not leader:
            try:
                return future.result(timeout=self.wait), "coalesced"
            except FutureTimeout:
                detail = "an identical request is still waiting for the legacy database"
                raise SourceTimeout(detail) from None
        try:
            entity = compute()
        except BaseException as err:
            with self._lock:
                self._inflight.pop(key, None)
            future.set_exception(err)
            raise
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl, entity)
            self._inflight.pop(key, None)
            if len(self._entries) > self.max_entries:
                self._prune()
        future.set_result(entity)
        return entity, "miss"

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) > self.max_entries:
            del self._entries[next(iter(self._entries))]


class RedisStore:
    """Entries in Redis with a TTL; a `SET NX PX` lock per key while one caller computes."""

    POLL = 0.01

    def __init__(self, url: str, prefix: str, wait: float) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self.prefix = prefix
        self.wait = wait

    def fetch(self, key: str, ttl: float, compute: Compute) -> tuple[Entity, str]:
        name = f"{self.prefix}:{key}"
        lock = f"{name}:lock"
        try:
            raw = self.redis.get(name)
            if raw is not None:
                return _decode(raw), "hit"
            token = secrets.token_hex(8).encode()
            leader = self.redis.set(lock, token, nx=True, px=int(self.wait * 1000))
        except self.errors as err:
            log.warning("response cache unavailable, serving uncached: %s", err)
            return compute(), "bypass"
        if leader:
            return self._lead(name, lock, token, ttl, compute), "miss"
        deadline = time.monotonic() + self.wait
        try:
            while time.monotonic() < deadline:
                time.sleep(self.POLL)
                raw, locked = self.redis.pipeline().get(name).exists(lock).execute()
                if raw is not None:
                    return _decode(raw), "coalesced"
                if not locked:
                    break  # the first caller failed: try ourselves
        except self.errors as err:
            log.warning("response cache unavailable, serving uncached: %s", err)
            return compute(), "bypass"
        return compute(), "miss"

    def _lead(self, name: str, lock: str, token: bytes, ttl: float, compute: Compute) -> Entity:
        try:
            entity = compute()
        except BaseException:
            self._unlock(lock, token)
            raise
        try:
            self.redis.set(name, _encode(entity), px=int(ttl * 1000))
        except self.errors as err:
            log.warning("response cache unavailable, not stored: %s", err)
        self._unlock(lock, token)
        return entity

    def _unlock(self, lock: str, token: bytes) -> None:
        try:
            if self.redis.get(lock) == token:
                self.redis.delete(lock)
        except self.errors:
            pass  # the lock expires by itself


def _encode(entity: Entity) -> bytes:
    return orjson.dumps([entity.etag, entity.headers]) + b"\n" + entity.body


def _decode(raw: bytes) -> Entity:
    head, _, body = raw.partition(b"\n")
    etag, headers = orjson.loads(head)
    return Entity(body, etag, tuple((str(k), str(v)) for k, v in headers))


def open_store(storage: str, prefix: str, wait: float) -> Store:
    if storage.startswith(("redis://", "rediss://")):
        return RedisStore(storage, prefix, wait)
    return MemoryStore(wait)


def request_key(resource: Resource, access: Access) -> str:
    """The normalized request plus what the caller may see of `resource`."""
    args = sorted(request.args.items(multi=True))
    raw = orjson.dumps([request.host_url, request.path, args, access.scope_key(resource)])
    return hashlib.sha256(raw).hexdigest()


def cache_control(max_age: int, resource: Resource, access: Access) -> str:
    """`public` only when the response is the same for every caller."""
    personal = access.identity is not None or access.scope_key(resource) != ""
    return f"{'private' if personal else 'public'}, max-age={max_age}"


class Responder:
    """A read view's result -> response: through the shared cache when the resource
    opts in, always with a strong ETag, 304 when `If-None-Match` matches."""

    def __init__(self, config: Config, store: Store, metrics: Metrics) -> None:
        self.store = store
        self.metrics = metrics
        self.policies: dict[tuple[str, str], ResourceCacheConfig] = {
            (v.name, r.name): r.cache for v in config.versions for r in v.resources if r.cache
        }

    def __call__(self, resource: Resource, access: Access, compute: Rendered) -> Response:
        def encoded() -> Entity:
            body, headers = compute()
            return make_entity(orjson.dumps(body), headers.items())

        policy = self.policies.get((resource.version, resource.name))
        if policy and policy.shared:
            start = time.perf_counter()
            key = request_key(resource, access)
            entity, result = self.store.fetch(key, policy.max_age, encoded)
            self.metrics.cache_requests.labels(f"{resource.version}/{resource.name}", result).inc()
            if result == "coalesced":
                self.metrics.coalesced_wait_seconds.observe(time.perf_counter() - start)
        else:
            entity = encoded()
        control = cache_control(policy.max_age, resource, access) if policy else None
        response = respond(entity, control)
        if response.status_code == 304:
            self.metrics.not_modified.inc()
        return response
