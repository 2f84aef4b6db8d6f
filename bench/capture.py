"""Change capture, measured (run by hand, never in the test suite).

    .venv/bin/python -m bench.capture [--backend sqlite|postgresql|both]
        [--latency-writes 150] [--rows 1000000] [--changed 100] [--skip-latency] [--skip-diff]

(a) Latency from a legacy write to the webhook's receipt: a `legacy-wrapper
worker` process captures ORDERS by watermark (1 s poll) and delivers to a
receiver on loopback; a writer commits a row every 0.2 s with its write time
and the receiver notes when each arrives. Reports p50, p99 and the maximum.

(b) Snapshot diff of a large table: a table of `--rows` rows is captured by
snapshot (range checksums in the legacy database); `--changed` rows are then
updated, deleted or inserted at random keys, and one poll is timed with the
rows it fetched and the queries it ran, next to a naive full fetch of the
table in the same run (every row over the wire, as a capture without range
checksums does each poll).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from fixtures.databases import temporary_database
from legacy_adapters.sql.source import SQLAlchemySource
from tests.wrapper.events.receiver import Receiver
from wrapper.config import parse_config
from wrapper.events import subscriptions, tables
from wrapper.events.capture.poll import Poll
from wrapper.events.capture.runner import CaptureRunner
from wrapper.events.capture.snapshot import read_all
from wrapper.events.capture.unit import capture_units
from wrapper.events.ssrf import TargetPolicy
from wrapper.mapping.model import build_mapping, mapped_tables

LOOPBACK = TargetPolicy.from_entries(["127.0.0.0/8"])
MAPPING = """
source: {{url: "{legacy}", statement_timeout: 600}}
state: {{url: "{state}"}}
webhooks: {{allow: [127.0.0.0/8], timeout: 5s}}
versions:
  v1:
    resources:
      orders:
        table: ORDERS
        fields:
          order_no: ORD_NO
          customer: {{column: CUST, rows: {{claim: customer}}}}
          status: {{column: STAT, convert: {{enum: {{OP: open, SH: shipped, CL: closed}}}}}}
          amount: AMT
          note: NOTE
          updated_at: UPD_TS
        events: {events}
"""
TABLE = """CREATE TABLE "ORDERS" ("ORD_NO" INTEGER NOT NULL PRIMARY KEY,
 "CUST" VARCHAR(10) NOT NULL, "STAT" CHAR(2) NOT NULL, "AMT" NUMERIC(10,2), "NOTE" VARCHAR(40),
 "UPD_TS" {timestamp})"""
FILL = {
    "sqlite": """WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
 INSERT INTO "ORDERS" SELECT i, 'C' || (i % 1000), 'OP', i % 10000, 'note ' || i,
 '2026-11-30 08:00:00.000000' FROM n""",
    "postgresql": """INSERT INTO "ORDERS" SELECT i, 'C' || (i % 1000), 'OP', i % 10000,
 'note ' || i, timestamp '2026-11-30 08:00:00' FROM generate_series(1, :rows) AS i""",
}


def _legacy(backend: str, folder: Path, rows: int):  # type: ignore[no-untyped-def]
    context = temporary_database(backend, folder)
    url = context.__enter__()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        timestamp = "TIMESTAMP" if backend == "postgresql" else "DATETIME"
        conn.execute(sa.text(TABLE.format(timestamp=timestamp)))
        if rows:
            conn.execute(sa.text(FILL[backend]), {"rows": rows})
    if backend == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text('VACUUM ANALYZE "ORDERS"'))
    return context, url, engine


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ----------------------------------------------------------------------------- (a)


def latency(backend: str, writes: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="lw-capture-"))
    context, url, engine = _legacy(backend, folder, 0)
    state = f"sqlite:///{folder}/state.db"
    config = folder / "wrapper.yaml"
    events = "{capture: watermark, column: UPD_TS, overlap: 2s, interval: 1s}"
    config.write_text(MAPPING.format(legacy=url, state=state, events=events))
    store = tables.connect(state)
    written: dict[str, float] = {}
    with Receiver() as receiver:
        subscriptions.create(
            store, owner="bench", api_version="v1", url=receiver.url,
            event_types=["orders.*"], policy=LOOPBACK,
        )  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "wrapper", "worker", "--config", str(config),
             "--status-every", "3600"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            time.sleep(3)  # started, baseline recorded
            insert = sa.text(
                "INSERT INTO \"ORDERS\" VALUES (:no, 'C1', 'OP', 1, 'x', CURRENT_TIMESTAMP)"
            )
            for no in range(1, writes + 1):
                with engine.begin() as conn:
                    conn.execute(insert, {"no": no})
                written[str(no)] = time.monotonic()
                time.sleep(0.2)
            deadline = time.monotonic() + 30
            while len(receiver.received()) < writes and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        got = {r.event["subject"]: r.at for r in receiver.received()}
    store.dispose()
    engine.dispose()
    context.__exit__(None, None, None)
    seconds = [got[k] - written[k] for k in written if k in got]
    return {
        "received": len(seconds),
        "written": writes,
        "p50_s": statistics.median(seconds),
        "p99_s": pct(seconds, 99),
        "max_s": max(seconds),
    }


# ----------------------------------------------------------------------------- (b)


def diff(backend: str, rows: int, changed: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="lw-capture-"))
    started = time.perf_counter()
    context, url, engine = _legacy(backend, folder, rows)
    built = time.perf_counter() - started
    text = MAPPING.format(
        legacy=url, state=f"sqlite:///{folder}/state.db", events="{capture: snapshot}"
    )
    config = parse_config(text)
    (name,) = config.sources
    source = SQLAlchemySource(url, statement_timeout=600)
    mapping = build_mapping(config, {name: source.reflect(mapped_tables(config, name))})
    (unit,) = capture_units(mapping)
    store = tables.connect(config.state.url)
    runner = CaptureRunner([unit], {name: source}, store)

    started = time.perf_counter()
    baseline = runner.poll(unit)
    baseline_s = time.perf_counter() - started
    started = time.perf_counter()
    unchanged = runner.poll(unit)
    unchanged_s = time.perf_counter() - started

    keys = random.Random(7).sample(range(1, rows + 1), changed)
    with engine.begin() as conn:
        for i, key in enumerate(keys):
            if i % 10 == 0:
                conn.execute(sa.text('DELETE FROM "ORDERS" WHERE "ORD_NO" = :k'), {"k": key})
            elif i % 10 == 1:
                conn.execute(
                    sa.text("INSERT INTO \"ORDERS\" VALUES (:k, 'C9', 'OP', 1, 'new', NULL)"),
                    {"k": rows + 1 + i},
                )
            else:
                conn.execute(
                    sa.text('UPDATE "ORDERS" SET "STAT" = \'SH\' WHERE "ORD_NO" = :k'), {"k": key}
                )
    started = time.perf_counter()
    report = runner.poll(unit)
    diff_s = time.perf_counter() - started

    started = time.perf_counter()
    naive = Poll(unit, source, store, "bench", runner.rendering)
    fetched = len(read_all(naive))
    naive_s = time.perf_counter() - started
    assert baseline and unchanged and report
    result = {
        "rows": rows,
        "legacy_build_s": round(built, 1),
        "baseline_s": round(baseline_s, 1),
        "unchanged_poll_s": round(unchanged_s, 3),
        "unchanged_queries": unchanged.queries,
        "unchanged_rows_fetched": unchanged.rows_fetched,
        "changed_rows": changed,
        "diff_poll_s": round(diff_s, 2),
        "diff_queries": report.queries,
        "diff_rows_fetched": report.rows_fetched,
        "diff_rows_fetched_pct": round(100 * report.rows_fetched / rows, 3),
        "diff_changes_found": report.changes,
        "naive_full_fetch_s": round(naive_s, 2),
        "naive_rows_fetched": fetched,
    }
    store.dispose()
    source.close()
    engine.dispose()
    context.__exit__(None, None, None)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--latency-writes", type=int, default=150)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-diff", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        if not args.skip_latency:
            print(backend, "latency", latency(backend, args.latency_writes), flush=True)
        if not args.skip_diff:
            print(backend, "snapshot diff", diff(backend, args.rows, args.changed), flush=True)


if __name__ == "__main__":
    main()
