"""Outage drills, run by hand: a real `serve` (granian and gunicorn, two workers)
over the demo database on SQLite and PostgreSQL, taken through the faults a
production service meets, printing what clients got in each phase.

    python -m bench.drills [--backends sqlite,postgresql] [--servers granian,gunicorn]

Phases (the database is broken through `tests/support/outages.py`: a loopback proxy in
front of PostgreSQL that refuses or hangs; the SQLite file moved away):

- `up`: the database answers.
- `refuse`: connections are refused (the server is down).
- `hang`: connections are accepted and nothing is ever answered (PostgreSQL
  only); four legacy reads are in flight while the probes run.
- `back`: the database answers again; the first probe shows the recovery.
- `reload down`: refused, then SIGHUP to the master; probed once fresh workers run.
- `kill down`: still refused, one worker killed with SIGTERM; probed once replaced.
- `back after`: the database answers again, without a restart.
- `slow 2`, `slow 16`: 2 (as many as workers), then 16 connections trickle header
  lines and never finish.

A server is `granian` or `gunicorn` with `serve`'s default threads, or `NAME/T` for
T threads a worker (`gunicorn/1` is gunicorn's sync worker, the former default).
Each probe requests `/v1/jobs?limit=5` (a legacy read), `/readyz`, `/livez` and
`/v1/docs` three times; the table shows the status codes (`timeout` after 15 s)
and the median and longest answer times.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fixtures.databases import temporary_database
from tests.support.demo import demo_mapping
from tests.support.outages import Outage, outage
from tests.support.servers import eventually, serving, workers
from wrapper.demo import plant

PATHS = ("/v1/jobs?limit=5", "/readyz", "/livez", "/v1/docs")
GIVE_UP = 15.0


def ask(url: str) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=GIVE_UP) as response:
            response.read()
            status = str(response.status)
    except urllib.error.HTTPError as err:
        status = str(err.code)
    except TimeoutError:
        status = "timeout"
    except (urllib.error.URLError, ConnectionError) as err:
        status = type(getattr(err, "reason", err)).__name__
    return status, time.perf_counter() - started


def probe(base: str, rounds: int = 3) -> dict[str, list[tuple[str, float]]]:
    return {path: [ask(base + path) for _ in range(rounds)] for path in PATHS}


@contextmanager
def in_flight(base: str, count: int) -> Iterator[list[tuple[str, float]]]:
    """`count` legacy reads started now; their answers are in the list afterwards."""
    answers: list[tuple[str, float]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(ask(base + PATHS[0]))) for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    yield answers
    for thread in threads:
        thread.join()


@contextmanager
def trickling(port: int, clients: int) -> Iterator[None]:
    stop = threading.Event()

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\n")
            while not stop.wait(0.5):
                try:
                    conn.sendall(b"X-Slow: y\r\n")
                except OSError:
                    return

    for _ in range(clients):
        threading.Thread(target=trickle, daemon=True).start()
    time.sleep(1)
    try:
        yield
    finally:
        stop.set()


def config_for(folder: Path, url: str, timeout: float) -> Path:
    config = folder / "wrapper.yaml"
    text = demo_mapping(url).replace("statement_timeout: 5", f"statement_timeout: {timeout}")
    config.write_text(text)
    return config


def drill(db: Outage, config: Path, server: str, rows: list[tuple]) -> None:
    name, _, threads = server.partition("/")
    args = ("--no-auth", "--workers", "2", "--server", name)
    with serving(config, *args, *(("--threads", threads) if threads else ())) as (base, proc):
        port = int(base.rsplit(":", 1)[1])

        def record(phase: str, results: dict[str, list[tuple[str, float]]]) -> None:
            for path, answers in results.items():
                rows.append((server, phase, path, answers))

        record("up", probe(base))
        db.set("refuse")
        record("refuse", probe(base))
        if db.can_hang:
            db.set("hang")
            with in_flight(base, 4) as waiting:
                results = probe(base)
            results["(4 reads in flight)"] = waiting
            record("hang", results)
        db.set("forward")
        record("back", probe(base))
        db.set("refuse")
        before = workers(proc.pid)
        os.kill(proc.pid, signal.SIGHUP)
        eventually(lambda: len(workers(proc.pid)) == 2 and not workers(proc.pid) & before, "HUP")
        record("reload down", probe(base))
        before = workers(proc.pid)
        os.kill(min(before), signal.SIGTERM)
        eventually(lambda: len(workers(proc.pid)) == 2 and workers(proc.pid) != before, "kill")
        record("kill down", probe(base))
        db.set("forward")
        record("back after", probe(base))
        for clients in (2, 16):
            with trickling(port, clients):
                record(f"slow {clients}", probe(base))
        assert proc.poll() is None, "the server ended"


def table(backend: str, rows: list[tuple]) -> None:
    print(f"\n{backend}")
    print(f"{'server':11} {'phase':12} {'path':20} {'statuses':22} {'median':>9} {'max':>9}")
    for server, phase, path, answers in rows:
        statuses = ", ".join(f"{n}x{s}" for s, n in Counter(s for s, _ in answers).items())
        times = [t for _, t in answers]
        median, longest = statistics.median(times) * 1000, max(times) * 1000
        print(f"{server:11} {phase:12} {path:20} {statuses:22} {median:7.0f}ms {longest:7.0f}ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--servers", default="granian,gunicorn")
    parser.add_argument("--statement-timeout", type=float, default=2)
    options = parser.parse_args()
    for backend in options.backends.split(","):
        rows: list[tuple] = []
        for server in options.servers.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                with temporary_database(backend, folder) as url:
                    plant.build(url, orders=200)
                    with outage(url, folder) as db:
                        config = config_for(folder, db.url, options.statement_timeout)
                        drill(db, config, server, rows)
        table(backend, rows)


if __name__ == "__main__":
    main()
