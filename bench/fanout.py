"""Fan-out benchmark: many dashboards polling a legacy database through the wrapper.

Scenarios, each with `--clients` concurrent connections (wrk) for `--seconds`:

- same-view: every client polls the same dashboard list (`/v1/jobs?status=running...`).
- customers: every client polls a different customer's orders.
- floor:     a plain Flask endpoint returning a constant body of the dashboard's size,
             on the same server and workers (the ceiling the cache hit path can reach).

The app is the demo mapping with `cache: {max_age: 2}` on v1 jobs and orders and the
shared cache in Redis (one prefix per run, deleted afterwards). Legacy queries are
counted by the wrapper (`lw_legacy_queries_total`, summed over workers) and, on
PostgreSQL, on the database side as well (transactions in `pg_stat_database`).

    .venv/bin/python -m bench.fanout --backend sqlite --server gunicorn --seconds 30
    .venv/bin/python -m bench.fanout --backend postgresql --server granian

Needs `wrk` (apt-get install wrk), Redis on 127.0.0.1:6379 and, for PostgreSQL, the
server of the tests. Runs only on loopback; every run is bounded by `--seconds`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.run import free_port

DASHBOARD = "/v1/jobs?status=running&sort=due_date&limit=50"
FLOOR = "/_bench/constant"
REDIS = "redis://127.0.0.1:6379/0"

WRK_SCRIPT = """
local paths = {%(paths)s}
local n = #paths
local i = 0
local threads = {}
function setup(thread)
  thread:set("first", math.random(n))
  table.insert(threads, thread)
end
function init(args)
  s2, s3, s4, s5 = 0, 0, 0, 0
  i = first or 0
end
function request()
  i = i %% n + 1
  return wrk.format("GET", paths[i])
end
function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1
  elseif status >= 400 then s4 = s4 + 1
  elseif status >= 300 then s3 = s3 + 1
  else s2 = s2 + 1 end
end
function done(summary, latency, requests)
  local t = {0, 0, 0, 0}
  for _, thread in ipairs(threads) do
    t[1] = t[1] + thread:get("s2"); t[2] = t[2] + thread:get("s3")
    t[3] = t[3] + thread:get("s4"); t[4] = t[4] + thread:get("s5")
  end
  io.write(string.format("STATUS %%d %%d %%d %%d\\n", t[1], t[2], t[3], t[4]))
  io.write(string.format("LAT %%d %%d\\n", latency:percentile(50), latency:percentile(99)))
end
"""


# ------------------------------------------------------------------ the app under test


def make_app():  # type: ignore[no-untyped-def]
    """WSGI factory for the servers: the wrapper plus the constant-response floor."""
    from flask import Response

    from wrapper.app import create_app
    from wrapper.config import load_config

    # The cache path is measured without credentials (as the floor has none).
    app = create_app(load_config(os.environ["LW_BENCH_CONFIG"]), no_auth=True)
    body: list[bytes] = []

    @app.get(FLOOR)
    def constant() -> Response:
        return Response(body[0], mimetype="application/json")

    body.append(app.test_client().get(DASHBOARD).data)
    return app


def bench_config(url: str, prefix: str) -> str:
    from wrapper.demo import MAPPING

    text = MAPPING.read_text(encoding="utf-8").replace("sqlite:///plant.db", url)
    for table in ("JOBSCHED", "ORDHDR"):
        text = text.replace(
            f"        table: {table}\n",
            f"        table: {table}\n        cache: {{max_age: 2}}\n",
            1,
        )
    return text.replace(
        "\nversions:", f"\ncache: {{storage: '{REDIS}', key_prefix: {prefix}}}\nversions:", 1
    )


@contextmanager
def database(backend: str, folder: Path, orders: int) -> Iterator[str]:
    from fixtures.databases import temporary_database
    from wrapper.demo import plant

    with temporary_database(backend, folder) as url:
        plant.build(url, orders=orders)
        yield url


@contextmanager
def server(kind: str, config: Path, workers: int, threads: int) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, LW_BENCH_CONFIG=str(config))
    metrics_dir = tempfile.mkdtemp(prefix="lw-bench-metrics-")
    env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    bin_dir = Path(sys.executable).parent
    if kind == "gunicorn":
        command = [str(bin_dir / "gunicorn"), "-b", f"127.0.0.1:{port}", "-w", str(workers),
                   "--threads", str(threads), "-k", "gthread" if threads > 1 else "sync",
                   "--backlog", "2048", "bench.fanout:make_app()"]  # fmt: skip
    else:
        command = [str(bin_dir / "granian"), "--interface", "wsgi", "--host", "127.0.0.1",
                   "--port", str(port), "--workers", str(workers), "--blocking-threads",
                   str(threads), "--factory", "--log-level", "warning",
                   "bench.fanout:make_app"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(kind, base, proc)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _wait_ready(kind: str, base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"{kind} exited with {proc.returncode}")
        try:
            if _get(base + "/readyz")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{kind} did not become ready")
        time.sleep(0.3)


# ------------------------------------------------------------------ measuring


def wrk(base: str, paths: list[str], clients: int, seconds: int) -> dict[str, Any]:
    script = WRK_SCRIPT % {"paths": ", ".join(json.dumps(p) for p in paths)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        command = ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s",
                   "-s", handle.name, base]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=True
        )
        out = done.stdout
    finally:
        os.unlink(handle.name)
    s2, s3, s4, s5 = map(int, re.search(r"STATUS (\d+) (\d+) (\d+) (\d+)", out).groups())  # type: ignore[union-attr]
    p50, p99 = map(int, re.search(r"LAT (\d+) (\d+)", out).groups())  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": s2 + s3 + s4 + s5,
        "rps": rps,
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "2xx": s2,
        "4xx": s4,
        "5xx": s5,
        "socket_errors": errors.group(1) if errors else "",
    }


def legacy_queries(base: str) -> float:
    text = _get(base + "/metrics")[1].decode()
    return sum(
        float(m.group(1))
        for m in re.finditer(
            r'^lw_legacy_queries_total\{[^}]*kind="select"[^}]*\} (\S+)', text, re.M
        )
    )


def pg_transactions(url: str) -> int | None:
    if not url.startswith("postgresql"):
        return None
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
            return int(
                conn.exec_driver_sql(
                    "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                    "WHERE datname = current_database()"
                ).scalar_one()
            )
    finally:
        engine.dispose()


def scenario(base: str, url: str, name: str, paths: list[str], args: argparse.Namespace) -> dict:
    time.sleep(2.1)  # start every scenario with an expired cache
    before, pg_before = legacy_queries(base), pg_transactions(url)
    result = wrk(base, paths, args.clients, args.seconds)
    time.sleep(1.0)  # let PostgreSQL flush its statistics
    queries = legacy_queries(base) - before
    result.update(scenario=name, legacy_queries=int(queries))
    result["legacy_per_1000"] = round(1000 * queries / max(result["requests"], 1), 3)
    result["cache_periods"] = round(args.seconds / 2, 1)
    if pg_before is not None:
        # Each pooled checkout is a transaction; our own two stats reads add 2.
        result["pg_transactions"] = pg_transactions(url) - pg_before - 2  # type: ignore[operator]
    return result


def run(args: argparse.Namespace) -> list[dict]:
    prefix = f"lw-bench-{secrets.token_hex(4)}"
    results = []
    with (
        tempfile.TemporaryDirectory() as folder,
        database(args.backend, Path(folder), args.orders) as url,
    ):
        config = Path(folder) / "bench.yaml"
        config.write_text(bench_config(url, prefix))
        try:
            with server(args.server, config, args.workers, args.threads) as base:
                customers = json.loads(
                    _get(f"{base}/v1/customers?limit={args.clients}&fields=customer_no")[1]
                )["data"]
                mine = [f"/v1/orders?customer_no={c['customer_no']}&limit=20" for c in customers]
                for name, paths in (
                    ("floor", [FLOOR]),
                    ("same-view", [DASHBOARD]),
                    ("customers", mine),
                ):
                    if args.scenarios and name not in args.scenarios:
                        continue
                    result = scenario(base, url, name, paths, args)
                    result.update(backend=args.backend, server=args.server)
                    results.append(result)
                    print(json.dumps(result), flush=True)
        finally:
            _drop_prefix(prefix)
    floor = next((r["rps"] for r in results if r["scenario"] == "floor"), None)
    for r in results:
        if floor and r["scenario"] != "floor":
            r["ratio_to_floor"] = round(r["rps"] / floor, 3)
    return results


def _drop_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--server", choices=["gunicorn", "granian"], default="gunicorn")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--orders", type=int, default=4000)
    parser.add_argument("--scenarios", nargs="*", choices=["floor", "same-view", "customers"])
    args = parser.parse_args()
    if not 1 <= args.seconds <= 300:
        parser.error("--seconds must be between 1 and 300")
    results = run(args)
    print("\n| scenario | req/s | p50 ms | p99 ms | 5xx | legacy queries | per 1,000 | vs floor |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['scenario']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
            f"{r['5xx']} | {r['legacy_queries']} | {r['legacy_per_1000']} | "
            f"{r.get('ratio_to_floor', '')} |"
        )


if __name__ == "__main__":
    main()
