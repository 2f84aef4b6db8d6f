"""Webhook delivery throughput to a receiver on loopback (run by hand).

    .venv/bin/python -m bench.webhooks [--backend sqlite|postgresql|both] [--events 5000]
        [--subscriptions 1] [--concurrency 16] [--engines 1]

Builds a fresh state store (a SQLite file, or a throwaway PostgreSQL database
on `LW_TEST_PG_URL`), subscribes a receiver running in its own process (a
threaded `http.server` with keep-alive answering 204), appends the events and
fans them out (timed apart), then runs delivery engines until every delivery
is recorded as succeeded and reports deliveries per second. The receiver
checks nothing but counts requests; the count must equal the deliveries.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

import sqlalchemy as sa

from fixtures.databases import temporary_database
from wrapper.events import outbox, subscriptions, tables
from wrapper.events.delivery import DeliveryConfig, DeliveryEngine
from wrapper.events.envelope import change_event
from wrapper.events.ssrf import TargetPolicy

LOOPBACK = TargetPolicy.from_entries(["127.0.0.0/8"])


def _receive(pipe: Connection) -> None:
    count = [0]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                count[0] += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pipe.send(server.server_address[1])
    pipe.recv()  # until asked for the count
    pipe.send(count[0])


def _prepare(store: sa.Engine, url: str, args: argparse.Namespace) -> float:
    for n in range(args.subscriptions):
        subscriptions.create(
            store,
            owner=f"bench{n}",
            api_version="v1",
            url=f"{url}/{n}",
            event_types=["orders.*"],
            policy=LOOPBACK,
        )
    events = [
        change_event(
            "orders", "updated", "v1", f"O{i:07d}",
            {"order_no": f"O{i:07d}", "status": "shipped", "total": "1234.50", "lines": i % 7},
            changed_fields=("status",),
        )
        for i in range(args.events)
    ]  # fmt: skip
    with store.begin() as conn:
        for start in range(0, len(events), 1000):
            outbox.append(conn, events[start : start + 1000])
    started = time.perf_counter()
    while outbox.dispatch(store, limit=1000):
        pass
    return time.perf_counter() - started


def _deliver(store: sa.Engine, args: argparse.Namespace) -> tuple[float, int]:
    config = DeliveryConfig(concurrency=args.concurrency, poll_interval=0.05, allow=LOOPBACK)
    engines = [DeliveryEngine(store, config) for _ in range(args.engines)]
    made = [0] * len(engines)

    def work(n: int) -> None:
        made[n] = engines[n].run(until_idle=True)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    for engine in engines:
        engine.close()
    return elapsed, sum(made)


def run(backend: str, args: argparse.Namespace) -> None:
    parent, child = multiprocessing.Pipe()
    receiver = multiprocessing.Process(target=_receive, args=(child,), daemon=True)
    receiver.start()
    url = f"http://127.0.0.1:{parent.recv()}/hook"
    with tempfile.TemporaryDirectory() as tmp, temporary_database(backend, Path(tmp)) as db:
        store = tables.connect(db)
        try:
            dispatch_s = _prepare(store, url, args)
            elapsed, made = _deliver(store, args)
            with store.connect() as conn:
                done = conn.execute(
                    sa.select(sa.func.count()).where(tables.deliveries.c.status == "succeeded")
                ).scalar_one()
        finally:
            store.dispose()
    parent.send("count")
    received = parent.recv()
    receiver.terminate()
    deliveries = args.events * args.subscriptions
    assert done == made == received == deliveries, (done, made, received, deliveries)
    print(
        f"{backend:10} {deliveries} deliveries in {elapsed:.2f} s: {deliveries / elapsed:,.0f}/s"
        f"  (fan-out {deliveries / dispatch_s:,.0f}/s; {args.engines} engine(s) x "
        f"{args.concurrency} in flight)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--subscriptions", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--engines", type=int, default=1)
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        run(backend, args)


if __name__ == "__main__":
    main()
