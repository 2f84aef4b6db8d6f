"""A delivery worker process for the crash test.

    python worker_process.py STORE_URL

Runs one delivery engine on the store with a short lease and a fast retry
schedule, allowing loopback targets, until SIGTERM (or SIGKILL).
"""

from __future__ import annotations

import signal
import sys
import threading

from wrapper.events import tables
from wrapper.events.delivery import DeliveryConfig, DeliveryEngine
from wrapper.events.retry import RetryPolicy
from wrapper.events.ssrf import TargetPolicy

CONFIG = DeliveryConfig(
    retry=RetryPolicy(schedule=(0.1,) * 20),
    timeout=1.0,
    lease_margin=0.5,  # a lease held by a killed worker runs out after 2.5 s
    concurrency=8,
    poll_interval=0.05,
    allow=TargetPolicy.from_entries(["127.0.0.0/8"]),
)


def main() -> None:
    store = tables.connect(sys.argv[1])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    engine = DeliveryEngine(store, CONFIG)
    print("ready", flush=True)
    try:
        engine.run(stop)
    finally:
        engine.close()
        store.dispose()


if __name__ == "__main__":
    main()
