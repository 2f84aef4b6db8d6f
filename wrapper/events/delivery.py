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

import http.client
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

import sqlalchemy as sa

from wrapper.events.envelope import CONTENT_TYPE
from wrapper.events.errors import TargetRefused
from wrapper.events.queue import Due, Outcome, claim, record
from wrapper.events.retry import RetryPolicy
from wrapper.events.signing import secret_key, webhook_headers
from wrapper.events.ssrf import Resolver, TargetPolicy
from wrapper.events.transport import Sender

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryConfig:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 15.0  # seconds for each of connect, send and every read of an attempt
    concurrency: int = 32  # requests in flight per engine
    lease_margin: float = 30.0  # a claim lasts 2 x timeout + this
    poll_interval: float = 1.0  # seconds between looks at an empty queue
    batch_window: float = 0.01  # seconds to let answers gather before recording them
    allow: TargetPolicy = field(default_factory=TargetPolicy)
    max_response_bytes: int = 64 * 1024  # read at most this much of an answer
    user_agent: str = "legacy-wrapper-webhooks/1"

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.poll_interval <= 0 or self.batch_window < 0:
            raise ValueError("timeout and poll_interval are positive, batch_window not negative")
        if self.concurrency < 1 or self.max_response_bytes < 0:
            raise ValueError("concurrency is at least 1, max_response_bytes not negative")

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
        self._sender = Sender(
            config.allow,
            timeout=config.timeout,
            max_body=config.max_response_bytes,
            ssl_context=ssl_context,
            resolver=resolver,
        )
        self._threads = ThreadPoolExecutor(config.concurrency, thread_name_prefix="webhook")
        self._half = max(1, config.concurrency // 2)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._sender.close()

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
            keys = [secret_key(s) for s in due.secrets]
            headers = webhook_headers(due.event_id, int(at), due.body, keys) | {
                "Content-Type": f"{CONTENT_TYPE}; charset=utf-8",
                "User-Agent": self.config.user_agent,
            }
            answer = self._sender.post(due.url, due.body, headers)
            status = answer.status
            if not 200 <= status < 300:
                error = _error_text(status, answer.body)
        except TargetRefused as err:
            error = f"target refused: {err}"
        except TimeoutError:
            error = f"no answer within {self.config.timeout:g} s"
        except socket.gaierror:
            error = "the host name does not resolve"
        except (OSError, http.client.HTTPException) as err:
            error = f"{type(err).__name__}: {err}"
        except Exception as err:
            log.exception("delivery %s failed unexpectedly", due.id)
            error = f"{type(err).__name__}: {err}"
        latency = round((time.perf_counter() - started) * 1000)
        return Outcome(due.id, due.subscription_id, due.attempt, at, latency, status, error)

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
            if not stop.is_set() and not unrecorded and (free >= self._half or not inflight):
                for due in self._claim(free):
                    inflight[self._threads.submit(self.attempt, due)] = due
            if not inflight and not unrecorded:
                if stop.is_set() or until_idle:
                    return made
                self._wake.wait(self.config.poll_interval)
                self._wake.clear()
                continue
            if inflight:
                self._settle(inflight, unrecorded)
            made += self._record(unrecorded)
            if stop.is_set() and unrecorded and not inflight:
                log.warning("%d attempts unrecorded at stop: sent again later", len(unrecorded))
                return made

    def _settle(self, inflight: dict[Future[Outcome], Due], outcomes: list[Outcome]) -> None:
        """Waits for the first answer and, for up to `batch_window`, for half of the
        requests in flight (one transaction records them all); moves the finished
        ones to ``outcomes``."""
        done, pending = wait(inflight, self.config.poll_interval, FIRST_COMPLETED)
        until = time.monotonic() + self.config.batch_window
        while done and pending and len(done) < self._half:
            more, pending = wait(pending, max(0.0, until - time.monotonic()), FIRST_COMPLETED)
            if not more:
                break
            done |= more
        for future in done:
            del inflight[future]
            outcomes.append(future.result())

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
