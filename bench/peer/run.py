"""The wrapper, the hand-written ceiling and Platformatic DB, side by side.

    python -m bench.peer --backend sqlite|postgresql [--orders N] [--duration S]
        [--workers W] [--connections C] [--workloads a,b] [--auth] [--pin-workers]
        [--wrapper-threads T] [--wrapper-workers W] [--own-session]

Builds (or reuses) the benchmark database and Platformatic's copy of it,
starts the wrapper (`legacy-wrapper serve --server granian --no-auth`, or with
`--auth` a bearer token of a shared-secret issuer on every request), the
ceiling (`granian bench.ceiling:app`) and Platformatic (`wattpm start`), each
with W workers on its own loopback port, then for every workload of
bench/run.py warms each up and measures them in alternating slices with wrk
(C connections). Prints req/s, p99, the server CPU per request and the ratios
to Platformatic; writes bench/results/<timestamp>-peer.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import loadgen
from bench.databases import DATA_DIR, PG_DATABASE, prepare, sample_keys, write_config
from bench.peer import platformatic
from bench.peer.databases import PEER_PG_DATABASE, postgresql_copy, sqlite_copy
from bench.run import (
    RESULTS_DIR,
    WORKLOADS,
    CpuSample,
    ServerProcess,
    _exit_on_signal,
    code_version,
    deep_cursor,
    free_port,
    running,
    server_processes,
)
from bench.run import workload_paths as bench_paths
from bench.stages import auth_section, bearer_token

log = logging.getLogger("bench")
APPS = ("wrapper", "ceiling", "platformatic")


def deep_cursors(config_path: Path, url: str, orders: int) -> dict[str, Any]:
    """Each app's cursor ~70% into ORDHDR: the wrapper and the ceiling walk to it
    in-process (their cursors are sealed); Platformatic's names the same row."""
    from bench.run import _apps_in_process

    apps = _apps_in_process(config_path, url)
    try:
        found = {name: deep_cursor(app.test_client(), orders) for name, (app, _) in apps.items()}
    finally:
        for _, engine in apps.values():
            engine.dispose()
    walked = found["wrapper"][1]
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            last = conn.execute(
                sa.text('SELECT "ORD_NO" FROM "ORDHDR" ORDER BY "ORD_NO" LIMIT 1 OFFSET :n'),
                {"n": walked - 1},
            ).scalar_one()
    finally:
        engine.dispose()
    return {"wrapper": found["wrapper"][0], "ceiling": found["ceiling"][0], "order_no": last}


def paths_of(app: str, name: str, keys: dict[str, Any], cursors: dict[str, Any]) -> list[str]:
    if app == "platformatic":
        return platformatic.workload_paths(name, keys, cursors["order_no"])
    return bench_paths(name, keys, cursors[app])


def measure(
    name: str,
    servers: dict[str, ServerProcess],
    keys: dict[str, Any],
    cursors: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, dict[str, Any]]:
    """Warm every app up, then slices in rotating order; wrk numbers plus the CPU
    of each server's process group per request."""
    targets = {a: (servers[a].base_url, paths_of(a, name, keys, cursors)) for a in APPS}
    for app, (base, paths) in targets.items():
        headers = servers[app].headers
        loadgen.run_load(base, paths, args.warmup, args.connections, args.threads, headers)
    groups = {a: p.proc.pid for a, p in servers.items() if p.proc is not None}
    database = PG_DATABASE if args.backend == "postgresql" else None
    slices: dict[str, list[dict[str, Any]]] = {a: [] for a in APPS}
    cpu = dict.fromkeys(APPS, 0.0)
    outside: list[float] = []
    for round_no in range(args.rounds):
        order = APPS[round_no % len(APPS) :] + APPS[: round_no % len(APPS)]
        for app in order:
            base, paths = targets[app]
            before = CpuSample.take(set(groups.values()), database)
            slice_ = loadgen.run_load(
                base,
                paths,
                args.duration / args.rounds,
                args.connections,
                args.threads,
                servers[app].headers,
            )
            after = CpuSample.take(set(groups.values()), database)
            slices[app].append(slice_)
            cpu[app] += after.groups.get(groups[app], 0.0) - before.groups.get(groups[app], 0.0)
            outside.append(after.outside_share(before))
    result = {app: loadgen.combine(slices[app]) for app in APPS}
    for app in APPS:
        served = result[app]["requests"]
        result[app]["server_cpu_us"] = round(cpu[app] / served * 1e6, 1) if served else 0.0
        result[app]["outside_cpu_pct"] = round(100 * sum(outside) / len(outside), 1)
    return result


def format_table(rows: list[dict[str, Any]], backend: str) -> str:
    head = (
        f"{'workload':<18} {'app':<13} {'req/s':>8} {'p99 ms':>7} {'cpu us/req':>10}"
        f"  {'r/s vs plt':>10} {'cpu vs plt':>10}"
    )
    lines = [f"backend: {backend}", head, "-" * len(head)]
    for row in rows:
        peer = row["platformatic"]
        for app in APPS:
            m = row[app]
            rps = m["rps"] / peer["rps"] if peer["rps"] else 0.0
            cpu = peer["server_cpu_us"] / m["server_cpu_us"] if m["server_cpu_us"] else 0.0
            lines.append(
                f"{row['workload'] if app == 'wrapper' else '':<18} {app:<13} {m['rps']:>8,.0f}"
                f" {m['p99_ms']:>7.1f} {m['server_cpu_us']:>10,.0f}  {rps:>10.2f} {cpu:>10.2f}"
            )
        lines.append(f"{'':<18} load {row['loadavg']}, other programs {row['other_pct']}% CPU")
    lines.append(
        "r/s vs plt = req/s / Platformatic's; cpu vs plt = Platformatic's server CPU per "
        "request / the app's (above 1: cheaper than Platformatic)"
    )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--orders", type=int, default=200_000, help="database size (orders)")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per app and workload")
    parser.add_argument("--rounds", type=int, default=3, help="slices per app and workload")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds per app (Node needs its JIT warm)"
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument(
        "--auth",
        action="store_true",
        help="the wrapper authenticates a bearer token on every request (validated, cached)",
    )
    parser.add_argument(
        "--pin-workers", action="store_true", help="the wrapper's `serve --pin-workers`"
    )
    parser.add_argument(
        "--wrapper-threads", type=int, help="the wrapper's `serve --threads` (default: serve's)"
    )
    parser.add_argument(
        "--wrapper-workers", type=int, help="the wrapper's `serve --workers` (default --workers)"
    )
    parser.add_argument(
        "--own-session",
        action="store_true",
        help="start each server in a session of its own (where the kernel groups tasks by "
        "session, it then shares the CPUs between sessions first: the load generator's and "
        "each server's); default: the load generator's session, as clients on other hosts",
    )
    parser.add_argument("--workloads", default=",".join(w.name for w in WORKLOADS))
    args = parser.parse_args(argv)
    args.workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(args.workloads) - {w.name for w in WORKLOADS}
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}")
    if not platformatic.installed():
        parser.error("Platformatic is not installed: run bench/peer/install.sh first")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    url = prepare(args.backend, args.orders)
    if args.backend == "sqlite":
        peer_db = f"sqlite://{sqlite_copy(args.orders, Path(sa.make_url(url).database or ''))}"
    else:
        peer_db = postgresql_copy(args.orders)
    config_path = write_config(url, DATA_DIR / f"wrapper-{args.backend}.yaml")
    headers: dict[str, str] = {}
    if args.auth:
        config_path.write_text(config_path.read_text() + auth_section())
        headers = {"Authorization": f"Bearer {bearer_token()}"}
    keys = sample_keys(url, args.keys)
    log.info("deep cursors (in-process walk of 70%% of %d orders) ...", keys["orders"])
    cursors = deep_cursors(config_path, url, keys["orders"])
    log_dir = DATA_DIR / "logs" / f"{stamp}-peer"
    processes = server_processes(
        "granian",
        args.workers,
        config_path,
        url,
        log_dir,
        headers,
        args.pin_workers,
        args.wrapper_threads,
        args.wrapper_workers,
    )
    peer = platformatic.server(peer_db, free_port(), args.workers, args.backend, log_dir)
    processes.append(peer)
    for process in processes:
        process.own_session = args.own_session
    servers = {p.app: p for p in processes}
    rows: list[dict[str, Any]] = []
    probes = {
        "wrapper": f"/v1/jobs/{keys['job_ids'][0]}",
        "ceiling": f"/v1/jobs/{keys['job_ids'][0]}",
        "platformatic": f"/jobsched/{keys['job_ids'][0]}",
    }
    with running(processes, probes) as ready:
        log.info("ready: %s", ", ".join(f"{a} {s} s" for a, s in ready.items()))
        for name in args.workloads:
            load = os.getloadavg()
            measured = measure(name, servers, keys, cursors, args)
            for app in APPS:
                if measured[app]["error_count"]:
                    log.warning("%s %s: errors %s", name, app, measured[app]["errors"])
            rows.append(
                {
                    "workload": name,
                    **measured,
                    "loadavg": " ".join(f"{x:.1f}" for x in load),
                    "other_pct": measured["wrapper"]["outside_cpu_pct"],
                }
            )
            log.info("%s: %s", name, ", ".join(f"{a} {measured[a]['rps']:,.0f} r/s" for a in APPS))
    print()
    print(format_table(rows, args.backend))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"{stamp}-peer.json"
    document = {
        "started": stamp,
        "args": vars(args),
        "platformatic": platformatic.version(),
        "load_generator": loadgen.describe(),
        "code": code_version(),
        "database": {"backend": args.backend, "orders": keys["orders"], "peer": PEER_PG_DATABASE},
        "deep_order_no": cursors["order_no"],
        "results": rows,
    }
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nwrote {out}")
    return 0
