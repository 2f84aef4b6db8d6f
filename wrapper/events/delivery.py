"""The delivery engine: POSTs due deliveries, signed, and records what happened.

One thread claims and records (the state database), a pool of threads sends.
Each attempt is a POST with the CloudEvents body, signed with every unexpired
secret of the subscription and a fresh timestamp, bounded by a timeout, to
the address the SSRF guard checked; redirects are not followed (a 3xx is a
failed attempt). Any 2xx is a success; anything else (an error status, a
refused or unreachable target, a timeout) is retried on the schedule, then
dead-lettered. Several engines, in one or many processes, can share a store.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpcore
import sqlalchemy as sa

from wrapper.events.envelope import CONTENT_TYPE
from wrapper.events.errors import TargetRefused
from wrapper.events.queue import Due, Outcome, claim, record
from wrapper.events.retry import RetryPolicy
from wrapper.events.signing import secret_key, webhook_headers
from wrapper.events.ssrf import GuardedBackend, Resolver, TargetPolicy, parse_target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryConfig:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 15.0  # seconds for each of connect, send and every read of an attempt
    concurrency: int = 16  # requests in flight per engine
    lease_margin: float = 30.0  # a claim lasts 2 x timeout + this
    poll_interval: float = 1.0  # seconds between looks at an empty queue
    allow: TargetPolicy = field(default_factory=TargetPolicy)
    max_response_bytes: int = 64 * 1024  # read at most this much of an answer
    user_agent: str = "legacy-wrapper-webhooks/1"

    @property
    def lease(self) -> float:
        return 2 * self.timeout + self.lease_margin


def _error_text(status: int, body: bytes) -> str:
    text = f"HTTP {status}"
    if 300 <= status < 400:
        text += " (redirects are not followed)"
    snippet = body[:200].decode("utf-8", "replace").strip()
    return f"{text}: {snippet}" if snippet else text


class DeliveryEngine:
    """Delivers due webhooks from the store behind ``engine`` until stopped."""

    def __init__(
        self,
        engine: sa.Engine,
        config: DeliveryConfig,
        *,
        ssl_context: ssl.SSLContext | None = None,
        resolver: Resolver = socket.getaddrinfo,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.config = config
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._clock = clock
        self._wake = threading.Event()
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=config.concurrency,
            keepalive_expiry=30.0,
            retries=0,
            network_backend=GuardedBackend(config.allow, resolver),
        )
        self._threads = ThreadPoolExecutor(config.concurrency, thread_name_prefix="webhook")
        self._timeouts = {k: config.timeout for k in ("connect", "read", "write", "pool")}

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._pool.close()

    def wake(self) -> None:
        """Look at the queue now instead of at the next poll."""
        self._wake.set()

    # ------------------------------------------------------------------ one attempt

    def attempt(self, due: Due) -> Outcome:
        """POSTs one delivery; never raises: every failure becomes the outcome's error."""
        at = self._clock()
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            status, answer = self._post(due, int(at))
            if not 200 <= status < 300:
                error = _error_text(status, answer)
        except TargetRefused as err:
            error = f"target refused: {err}"
        except httpcore.TimeoutException:
            error = f"no answer within {self.config.timeout:g} s"
        except (httpcore.NetworkError, httpcore.ProtocolError, OSError) as err:
            error = f"{type(err).__name__}: {err}"
        except Exception as err:
            log.exception("delivery %s failed unexpectedly", due.id)
            error = f"{type(err).__name__}: {err}"
        latency = round((time.perf_counter() - started) * 1000)
        return Outcome(due.id, due.subscription_id, due.attempt, at, latency, status, error)

    def _post(self, due: Due, timestamp: int) -> tuple[int, bytes]:
        parse_target(due.url)  # a plain http(s) URL, nothing else
        keys = [secret_key(s) for s in due.secrets]
        headers = webhook_headers(due.event_id, timestamp, due.body, keys)
        headers |= {
            "Host": urlsplit(due.url).netloc,
            "Content-Type": f"{CONTENT_TYPE}; charset=utf-8",
            "User-Agent": self.config.user_agent,
        }
        with self._pool.stream(
            "POST",
            due.url,
            headers=list(headers.items()),
            content=due.body,
            extensions={"timeout": self._timeouts},
        ) as response:
            answer = b""
            for chunk in response.iter_stream():
                answer += chunk
                if len(answer) >= self.config.max_response_bytes:
                    break
            return response.status, answer

    # ------------------------------------------------------------------ the loop

    def run(self, stop: threading.Event | None = None, *, until_idle: bool = False) -> int:
        """Claims, sends and records until ``stop`` is set (then finishes what is in
        flight) or, with ``until_idle``, until nothing is due; returns the number of
        attempts made."""
        stop = stop or threading.Event()
        inflight: dict[Future[Outcome], Due] = {}
        unrecorded: list[Outcome] = []
        made = 0
        while True:
            free = self.config.concurrency - len(inflight)
            if not stop.is_set() and free > 0 and not unrecorded:
                for due in self._claim(free):
                    inflight[self._threads.submit(self.attempt, due)] = due
            if not inflight and not unrecorded:
                if stop.is_set() or until_idle:
                    return made
                self._wake.wait(self.config.poll_interval)
                self._wake.clear()
                continue
            if inflight:
                done, _ = wait(inflight, self.config.poll_interval, FIRST_COMPLETED)
                for future in done:
                    del inflight[future]
                    unrecorded.append(future.result())
            made += self._record(unrecorded)

    def _claim(self, limit: int) -> list[Due]:
        try:
            return claim(
                self.engine, self.worker, limit, lease=self.config.lease, now=self._clock()
            )
        except sa.exc.DBAPIError as err:
            log.warning("cannot claim deliveries: %s", err)
            time.sleep(self.config.poll_interval)
            return []

    def _record(self, outcomes: list[Outcome]) -> int:
        """Records and empties ``outcomes``; keeps them when the store is unreachable."""
        if not outcomes:
            return 0
        try:
            record(
                self.engine,
                self.worker,
                outcomes,
                self.config.retry,
                now=self._clock(),
                rand=random.random,
            )
        except sa.exc.DBAPIError as err:
            log.warning("cannot record %d attempts: %s", len(outcomes), err)
            time.sleep(self.config.poll_interval)
            return 0
        count = len(outcomes)
        outcomes.clear()
        return count
