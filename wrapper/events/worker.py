"""The events worker: capture, dispatch and delivery, apart from the API processes.

Three loops share the state database: capture polls each captured resource at
its interval (one leader per resource, `capture.lease`), dispatch fans new
outbox events out into deliveries (what a subscriber receives is decided by
`decide`: by default what its owner could read, `visibility`), and the delivery
engine sends them. Several workers, on one host or
many (PostgreSQL state database), share the work. `stop` ends all three: the
engine finishes the requests in flight and the capture leases are let go.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping as MappingOf
from dataclasses import dataclass, field

import sqlalchemy as sa

from legacy_adapters.base import Source
from wrapper.config import Config, WebhooksConfig
from wrapper.events import outbox, tables
from wrapper.events.capture.runner import CaptureRunner
from wrapper.events.capture.unit import capture_units
from wrapper.events.delivery import DeliveryConfig, DeliveryEngine
from wrapper.events.delivery_log import Backlog, backlog
from wrapper.events.retry import RetryPolicy
from wrapper.events.visibility import Visibility
from wrapper.mapping.model import Mapping, build_mapping
from wrapper.schema_cache import load_schema
from wrapper.sources import open_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerContext:
    """What a `decide` factory may use to build a subscriber's rules."""

    config: Config
    mapping: Mapping
    store: sa.Engine


DecideFactory = Callable[[WorkerContext], outbox.Decide]


def send_unchanged(_context: WorkerContext) -> outbox.Decide:
    """Every matching subscriber receives every event as it is (tests, tools)."""
    return outbox.send_unchanged


def owners_view(context: WorkerContext) -> outbox.Decide:
    """Each subscriber receives what its owner could read (`visibility`)."""
    return Visibility(context.mapping).decide


def delivery_config(webhooks: WebhooksConfig) -> DeliveryConfig:
    """A claim outlives an attempt by one more timeout: a worker killed while it
    sent leaves its deliveries to the others after three timeouts."""
    defaults = DeliveryConfig()
    retry = RetryPolicy(schedule=webhooks.retry) if webhooks.retry is not None else defaults.retry
    timeout = webhooks.timeout or defaults.timeout
    return DeliveryConfig(
        retry=retry,
        timeout=timeout,
        lease_margin=timeout,
        concurrency=webhooks.concurrency or defaults.concurrency,
        poll_interval=0.2,
        allow=webhooks.policy,
    )


@dataclass
class Worker:
    config: Config
    sources: MappingOf[str, Source]
    mapping: Mapping
    store: sa.Engine
    capture: CaptureRunner
    delivery: DeliveryEngine
    decide: outbox.Decide
    dispatched: int = 0
    started: float = field(default_factory=time.time)

    @classmethod
    def open(
        cls,
        config: Config,
        *,
        sources: MappingOf[str, Source] | None = None,
        decide: DecideFactory = owners_view,
    ) -> Worker:
        """Reflects the mapped tables, checks the mapping (`ConfigError`), opens the
        state database."""
        opened = dict(sources or {})
        for name, sc in config.sources.items():
            opened.setdefault(name, open_source(sc))
        schemas = {name: load_schema(opened[name], config, name) for name in config.sources}
        mapping = build_mapping(config, schemas)
        store = tables.connect(config.state.url)
        runner = CaptureRunner(capture_units(mapping), opened, store)
        engine = DeliveryEngine(store, delivery_config(config.webhooks))
        decider = decide(WorkerContext(config, mapping, store))
        return cls(config, opened, mapping, store, runner, engine, decider)

    def dispatch(self, stop: threading.Event) -> None:
        """Fans new events out as they come; wakes the engine when it did."""
        base = (self.config.public_url or "").rstrip("/")
        while not stop.is_set():
            try:
                count = outbox.dispatch(self.store, self.decide, source_base=base)
            except Exception:  # the state database, or a subscriber's rules: logged, retried
                log.exception("dispatching events failed; trying again in 1 s")
                count = 0
                stop.wait(1.0)
            self.dispatched += count
            if count:
                self.delivery.wake()
            else:
                stop.wait(0.05)

    def run(self, stop: threading.Event) -> None:
        """Runs the three loops until ``stop`` is set."""
        loops = [
            threading.Thread(target=self.capture.run, args=(stop,), name="capture"),
            threading.Thread(target=self.dispatch, args=(stop,), name="dispatch"),
            threading.Thread(target=self.delivery.run, args=(stop,), name="delivery"),
        ]
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join()

    def status_line(self) -> str:
        """One line: what capture found, the backlog, what was delivered."""
        parts = []
        for unit in self.capture.units:
            status = self.capture.status.get(unit.name)
            if status is None:
                parts.append(f"{unit.name} starting")
            elif status.error:
                parts.append(f"{unit.name} ERROR {status.error[:80]}")
            elif not status.leading:
                parts.append(f"{unit.name} (another worker leads)")
            else:
                parts.append(f"{unit.name} {status.events} events")
        queue: Backlog = backlog(self.store, now=time.time())
        return (
            f"capture: {', '.join(parts) or 'nothing declared'} | dispatched {self.dispatched} "
            f"| deliveries open {queue.open} (due {queue.due}) dead {queue.dead} "
            f"| endpoints disabled {len(queue.disabled)}"
        )

    def close(self) -> None:
        self.delivery.close()
        for source in self.sources.values():
            source.close()
        self.store.dispose()
