"""A short-lived shared response cache with request coalescing.

Resources opt in with `cache: {max_age: N}` in the mapping. Entries are keyed
by the normalized request (path and sorted query arguments; not the `Host`
header, which no response depends on) and by the caller's row-level scope
(`Access.scope_key`), so one customer's rows are never served to another.
N identical concurrent requests cause one legacy query: the first caller runs
it, the others wait for its result (in-process: a future per key; Redis: a
`SET NX` lock the waiters poll).

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
from wrapper.conditional import Entity, conditional_response, make_entity
from wrapper.mapping.model import Mapping, Resource
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
        self._next_prune = 0.0

    def peek(self, key: str) -> Entity | None:
        found = self._entries.get(key)
        if found and found[0] > time.monotonic():
            return found[1]
        return None

    def put(self, key: str, entity: Entity, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl, entity)
            self._tidy()

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
            self._tidy()
        future.set_result(entity)
        return entity, "miss"

    def _tidy(self) -> None:
        """Drop expired entries about once a second, and the oldest beyond max_entries."""
        now = time.monotonic()
        if now >= self._next_prune or len(self._entries) > self.max_entries:
            self._next_prune = now + 1.0
            self._prune(now)

    def _prune(self, now: float) -> None:
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) > self.max_entries:
            del self._entries[next(iter(self._entries))]


class RedisStore:
    """Entries in Redis with a TTL; a `SET NX PX` lock per key while one caller computes.

    Each process also keeps the entries it has read from Redis until their Redis
    expiry (a near cache): a hot key costs one Redis read per process per period,
    not one per request, and never outlives the shared entry.
    """

    POLL = 0.01

    def __init__(self, url: str, prefix: str, wait: float) -> None:
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self.prefix = prefix
        self.wait = wait
        self.near = MemoryStore(wait)

    def fetch(self, key: str, ttl: float, compute: Compute) -> tuple[Entity, str]:
        found = self.near.peek(key)
        if found is not None:
            return found, "hit"
        name = f"{self.prefix}:{key}"
        lock = f"{name}:lock"
        try:
            raw = self.redis.get(name)
            if raw is not None:
                return self._keep(key, raw), "hit"
            token = secrets.token_hex(8).encode()
            leader = self.redis.set(lock, token, nx=True, px=int(self.wait * 1000))
        except self.errors as err:
            log.warning("response cache unavailable, serving uncached: %s", err)
            return compute(), "bypass"
        if leader:
            return self._lead(key, name, lock, token, ttl, compute), "miss"
        deadline = time.monotonic() + self.wait
        try:
            while time.monotonic() < deadline:
                time.sleep(self.POLL)
                raw, locked = self.redis.pipeline().get(name).exists(lock).execute()
                if raw is not None:
                    return self._keep(key, raw), "coalesced"
                if not locked:
                    break  # the first caller failed: try ourselves
        except self.errors as err:
            log.warning("response cache unavailable, serving uncached: %s", err)
            return compute(), "bypass"
        return compute(), "miss"

    def _keep(self, key: str, raw: bytes) -> Entity:
        entity, expires_at = _decode(raw)
        self.near.put(key, entity, expires_at - time.time())
        return entity

    def _lead(
        self, key: str, name: str, lock: str, token: bytes, ttl: float, compute: Compute
    ) -> Entity:
        try:
            # Between our miss and our lock, a previous leader may have stored it.
            raw = self.redis.get(name)
        except self.errors:
            raw = None
        try:
            entity = self._keep(key, raw) if raw is not None else compute()
        except BaseException:
            self._unlock(lock, token)
            raise
        if raw is None:
            try:
                self.redis.set(name, _encode(entity, time.time() + ttl), px=int(ttl * 1000))
            except self.errors as err:
                log.warning("response cache unavailable, not stored: %s", err)
            self.near.put(key, entity, ttl)
        self._unlock(lock, token)
        return entity

    def _unlock(self, lock: str, token: bytes) -> None:
        try:
            if self.redis.get(lock) == token:
                self.redis.delete(lock)
        except self.errors:
            pass  # the lock expires by itself


def _encode(entity: Entity, expires_at: float) -> bytes:
    return orjson.dumps([entity.etag, entity.headers, expires_at]) + b"\n" + entity.body


def _decode(raw: bytes) -> tuple[Entity, float]:
    head, _, body = raw.partition(b"\n")
    etag, headers, expires_at = orjson.loads(head)
    return Entity(body, etag, tuple((str(k), str(v)) for k, v in headers)), float(expires_at)


def open_store(storage: str, prefix: str, wait: float) -> Store:
    if storage.startswith(("redis://", "rediss://")):
        return RedisStore(storage, prefix, wait)
    return MemoryStore(wait)


def request_key(
    environ: dict[str, Any],
    resource: Resource,
    access: Access,
    related: tuple[Resource, ...] = (),
) -> str:
    """The normalized request plus what the caller may see of `resource` and of the
    resources `expand` can embed in it (`related`).

    Arguments are normalized by sorting the raw query string's parts (cheap: a hit
    never parses the query); differently encoded but equal queries only cost a
    separate entry, never a wrong answer.
    """
    args = "&".join(sorted(environ.get("QUERY_STRING", "").split("&")))
    scope = "\0".join(access.scope_key(r) for r in (resource, *related))
    where = f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"
    raw = "\0".join((where, args, scope)).encode("utf-8", "surrogateescape")
    return hashlib.blake2b(raw, digest_size=20).hexdigest()


def cache_control(max_age: int, resource: Resource, access: Access) -> str:
    """`public` only when the response is the same for every caller."""
    personal = access.private or bool(access.scope_key(resource))
    return f"{'private' if personal else 'public'}, max-age={max_age}"


class Responder:
    """A read view's result -> response: through the shared cache when the resource
    opts in, always with a strong ETag, 304 when `If-None-Match` matches.
    `entity` is the same without Flask (`wrapper.direct` builds the response)."""

    def __init__(self, mapping: Mapping, store: Store, metrics: Metrics) -> None:
        self.store = store
        self.related: dict[tuple[str, str], tuple[Resource, ...]] = {
            (v.name, r.name): tuple(
                t for rel in r.relations if (t := mapping.resource(v.name, rel.target))
            )
            for v in mapping.versions.values()
            for r in v.resources.values()
        }
        self.metrics = metrics
        self._counters: dict[tuple[str, str], Any] = {}

    def _counter(self, resource: Resource, result: str) -> Any:
        labels = (f"{resource.version}/{resource.name}", result)
        counter = self._counters.get(labels)
        if counter is None:
            counter = self._counters[labels] = self.metrics.cache_requests.labels(*labels)
        return counter

    def __call__(self, resource: Resource, access: Access, compute: Rendered) -> Response:
        entity, control = self.entity(request.environ, resource, access, compute)
        response = conditional_response(entity, control)
        if response.status_code == 304:
            self.metrics.not_modified.inc()
        return response

    def entity(
        self, environ: dict[str, Any], resource: Resource, access: Access, compute: Rendered
    ) -> tuple[Entity, str | None]:
        """The encoded body (from the shared cache when the resource opts in) and the
        response's `Cache-Control` (None: the resource sets none)."""

        def encoded() -> Entity:
            body, headers = compute()
            return make_entity(orjson.dumps(body), headers.items())

        policy = resource.cache
        if policy and policy.shared:
            start = time.perf_counter()
            related = self.related.get((resource.version, resource.name), ())
            key = request_key(environ, resource, access, related)
            entity, result = self.store.fetch(key, policy.max_age, encoded)
            self._counter(resource, result).inc()
            if result == "coalesced":
                self.metrics.coalesced_wait_seconds.observe(time.perf_counter() - start)
        else:
            entity = encoded()
        return entity, (cache_control(policy.max_age, resource, access) if policy else None)
