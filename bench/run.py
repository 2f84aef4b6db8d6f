"""Benchmark the wrapper against the hand-written ceiling app, by hand.

    python -m bench.run --backend sqlite|postgresql [--orders N] [--duration S]
        [--connections C] [--servers gunicorn,granian] [--workers W]

Builds (once) the demo plant database, writes a wrapper configuration for it,
checks that wrapper and ceiling issue the same SQL and return the same rows,
then serves both under each server with the same worker count and drives every
workload for `duration` seconds with wrk (or a bounded Python generator when
wrk is absent). Prints a table and writes bench/results/<timestamp>.json.
Every server process is stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import platform
import re
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench import loadgen
from bench.databases import DATA_DIR, PG_DATABASE, prepare, sample_keys, write_config

log = logging.getLogger("bench")

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
BIN = Path(sys.executable).parent
APPS = ("wrapper", "ceiling")
DEEP_FRACTION = 0.7
WALK_LIMIT = 1000


@dataclass(frozen=True)
class Workload:
    name: str
    description: str


WORKLOADS = (
    Workload("get-by-key", "/v1/jobs/{job_id}, rotating over sampled job ids"),
    Workload("dashboard", "/v1/jobs?work_center=WC03&status=running&sort=due_date&limit=50"),
    Workload("orders-first-page", "/v1/orders?limit=50"),
    Workload("orders-deep-page", "/v1/orders?limit=50&cursor=<cursor ~70% into ORDHDR>"),
    Workload("customer-orders", "/v1/orders?customer_no={C...}&sort=ordered_on&limit=50"),
)
DASHBOARD = "/v1/jobs?work_center=WC03&status=running&sort=due_date&limit=50"


def workload_paths(name: str, keys: dict[str, Any], deep_cursor: str) -> list[str]:
    """The request paths of one workload (the same for both apps but the deep cursor)."""
    if name == "get-by-key":
        return [f"/v1/jobs/{j}" for j in keys["job_ids"]]
    if name == "dashboard":
        return [DASHBOARD]
    if name == "orders-first-page":
        return ["/v1/orders?limit=50"]
    if name == "orders-deep-page":
        return [f"/v1/orders?limit=50&cursor={quote(deep_cursor)}"]
    if name == "customer-orders":
        return [f"/v1/orders?customer_no={c}&sort=ordered_on&limit=50" for c in keys["customers"]]
    raise ValueError(f"unknown workload {name!r}")


# --------------------------------------------------------------------------- in-process checks


def _apps_in_process(config_path: Path, url: str) -> dict[str, Any]:
    from bench.ceiling import create_app as create_ceiling
    from wrapper.app import create_app
    from wrapper.config import load_config

    # The benchmark serves without authentication (`serve --no-auth`), in-process too.
    no_auth = {"no_auth": True} if "no_auth" in inspect.signature(create_app).parameters else {}
    wrapper = create_app(load_config(config_path), **no_auth)
    ceiling = create_ceiling(url)
    return {
        "wrapper": (wrapper, wrapper.extensions["legacy_wrapper"].source.inner.engine),
        "ceiling": (ceiling, ceiling.extensions["bench_engine"]),
    }


def deep_cursor(client: Any, orders: int, fraction: float = DEEP_FRACTION) -> tuple[str, int]:
    """Walk /v1/orders in pages of 1000 until `fraction` of the orders; the cursor there."""
    target = int(orders * fraction)
    walked, cursor = 0, None
    while walked < target:
        path = f"/v1/orders?limit={WALK_LIMIT}"
        if cursor:
            path += f"&cursor={quote(cursor)}"
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.data[:300]}")
        body = response.get_json()
        walked += len(body["data"])
        cursor = body["next_cursor"]
        if not cursor:
            raise RuntimeError(f"/v1/orders ended after {walked} rows, before {target}")
    return cursor, walked


def _body_rows(body: Any) -> list[dict[str, Any]]:
    return body["data"] if isinstance(body, dict) and "data" in body else [body]


def _compare_bodies(name: str, bodies: dict[str, Any], diffs: dict[str, Any]) -> None:
    wrapper, ceiling = (_body_rows(bodies[a]) for a in APPS)
    if len(wrapper) != len(ceiling):
        diffs.setdefault(name, {})["row count"] = [len(wrapper), len(ceiling)]
        return
    for w_row, c_row in zip(wrapper, ceiling, strict=True):
        if list(w_row) != list(c_row):
            diffs.setdefault(name, {})["field names"] = [list(w_row), list(c_row)]
            return
        for key in w_row:
            if w_row[key] != c_row[key]:
                seen = diffs.setdefault(name, {}).setdefault(
                    key, {"rows": 0, "example": {"wrapper": w_row[key], "ceiling": c_row[key]}}
                )
                seen["rows"] += 1
    if isinstance(bodies["wrapper"], dict) and "next_cursor" in bodies["wrapper"]:
        more = [bool(bodies[a].get("next_cursor")) for a in APPS]
        if more[0] != more[1]:
            diffs.setdefault(name, {})["has next page"] = more


def check_in_process(
    config_path: Path, url: str, keys: dict[str, Any], samples: int = 200, cpu_requests: int = 1000
) -> dict[str, Any]:
    """Run both apps in-process (no HTTP server) and return what they tell:

    - the deep cursor of each app (~70% into ORDHDR, walked in pages of 1000);
    - the SQL each workload issues: statement and parameters must be equal;
    - the rows returned, compared field by field over `samples` requests per
      workload (differences are findings to report, not benchmark failures);
    - the CPU time each request costs this process, called straight through
      WSGI `cpu_requests` times: unlike req/s over HTTP it hardly moves when
      other programs share the machine, and on PostgreSQL it leaves out the
      database server's work (the SQL is the same for both apps).
    """
    import sqlalchemy as sa

    apps = _apps_in_process(config_path, url)
    statements: dict[str, list[tuple[str, Any]]] = {a: [] for a in APPS}
    listeners = []
    for name, (_, engine) in apps.items():

        def record(_c: Any, _cur: Any, stmt: str, params: Any, *_a: Any, _n: str = name) -> None:
            statements[_n].append((" ".join(stmt.split()), params))

        sa.event.listen(engine, "before_cursor_execute", record)
        listeners.append((engine, record))
    clients = {name: app.test_client() for name, (app, _) in apps.items()}
    result: dict[str, Any] = {"deep_cursor": {}, "sql": {}, "row_differences": {}, "cpu": {}}
    try:
        for name in APPS:
            cursor, walked = deep_cursor(clients[name], keys["orders"])
            result["deep_cursor"][name] = {"cursor": cursor, "rows_before": walked}
        for wl in WORKLOADS:
            paths = {
                a: workload_paths(wl.name, keys, result["deep_cursor"][a]["cursor"]) for a in APPS
            }
            for index in range(min(samples, len(paths["wrapper"]))):
                bodies = {}
                for a in APPS:
                    statements[a].clear()
                    response = clients[a].get(paths[a][index])
                    if response.status_code != 200:
                        raise RuntimeError(
                            f"{a}: GET {paths[a][index]} answered {response.status_code}: "
                            f"{response.data[:300]!r}"
                        )
                    bodies[a] = response.get_json()
                verdict = compare_sql(statements["wrapper"], statements["ceiling"])
                if index == 0 or (not verdict["same"] and result["sql"][wl.name]["same"]):
                    result["sql"][wl.name] = {
                        **verdict,
                        "wrapper": statements["wrapper"][:],
                        "ceiling": statements["ceiling"][:],
                    }
                _compare_bodies(wl.name, bodies, result["row_differences"])
        for engine, listener in listeners:
            sa.event.remove(engine, "before_cursor_execute", listener)
        listeners.clear()
        if cpu_requests:
            for wl in WORKLOADS:
                targets = {
                    a: (
                        apps[a][0],
                        workload_paths(wl.name, keys, result["deep_cursor"][a]["cursor"]),
                    )
                    for a in APPS
                }
                result["cpu"][wl.name] = cpu_costs(targets, cpu_requests)
    finally:
        for engine, listener in listeners:
            sa.event.remove(engine, "before_cursor_execute", listener)
        for _, engine in apps.values():
            engine.dispose()
    return result


_NAMED = re.compile(r"%\((\w+)\)s")
_CAST = re.compile(r"::[A-Z][A-Z ]*(\(\d+\))?")


def bound_sql(statement: str, params: Any) -> str:
    """The statement with its parameter values written in, so that two
    statements differing only in parameter names compare equal."""
    if isinstance(params, dict):
        return _NAMED.sub(lambda m: repr(params[m.group(1)]), statement)
    values = iter(params or ())
    return re.sub(r"\?", lambda _m: repr(next(values)), statement)


def compare_sql(wrapper: list[tuple[str, Any]], ceiling: list[tuple[str, Any]]) -> dict[str, bool]:
    """`same`: the same statements with the same values (parameter names aside);
    `same_without_casts`: equal once `::TYPE` casts are left out."""
    w = [bound_sql(s, p) for s, p in wrapper]
    c = [bound_sql(s, p) for s, p in ceiling]
    return {
        "identical_text": wrapper == ceiling,
        "same": w == c,
        "same_without_casts": [_CAST.sub("", x) for x in w] == [_CAST.sub("", x) for x in c],
    }


def cpu_costs(
    targets: dict[str, tuple[Any, list[str]]], requests: int, rounds: int = 5
) -> dict[str, dict[str, float]]:
    """CPU and wall microseconds per request for each app, calling its WSGI app
    directly, in alternating rounds so that drift falls on both apps alike."""
    from werkzeug.test import EnvironBuilder

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"in-process request answered {status}")

    def call(app: Any, environ: dict[str, Any]) -> None:
        body = app.wsgi_app(dict(environ), start_response)
        b"".join(body)
        if hasattr(body, "close"):
            body.close()

    environs = {
        name: [EnvironBuilder(path=p).get_environ() for p in paths[:500]]
        for name, (_, paths) in targets.items()
    }
    for name, (app, _) in targets.items():
        for environ in environs[name][:200]:
            call(app, environ)
    spent = {name: [0.0, 0.0, 0] for name in targets}  # cpu, wall, requests
    per_round = max(1, requests // rounds)
    names = list(targets)
    for round_no in range(rounds):
        for name in names if round_no % 2 == 0 else names[::-1]:
            app, envs = targets[name][0], environs[name]
            offset = spent[name][2]
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(offset, offset + per_round):
                call(app, envs[i % len(envs)])
            spent[name][0] += time.process_time() - cpu
            spent[name][1] += time.perf_counter() - wall
            spent[name][2] += per_round
    return {
        name: {"cpu_us": round(cpu / n * 1e6, 1), "wall_us": round(wall / n * 1e6, 1)}
        for name, (cpu, wall, n) in spent.items()
    }


# --------------------------------------------------------------------------- server processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    app: str
    server: str
    port: int
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    headers: dict[str, str] = field(default_factory=dict)  # sent with every request
    # A session of its own (setsid) puts the server in its own autogroup where the
    # kernel has sched_autogroup_enabled: the scheduler then shares the CPUs between
    # sessions first (the load generator's and the server's), threads second.
    own_session: bool = True
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own process group either way: stop() ends its workers too.
                start_new_session=self.own_session,
                process_group=None if self.own_session else 0,
            )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, probe: str, timeout: float = 120.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if not self.alive():
                raise RuntimeError(f"{self.app} under {self.server} exited:\n{self.log_tail()}")
            try:
                asked = urllib.request.Request(self.base_url + probe, headers=self.headers)
                with urllib.request.urlopen(asked, timeout=5) as response:
                    if response.status == 200:
                        return time.monotonic() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.app} under {self.server} not ready:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # Workers left behind by a master that died first share its process group.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def server_processes(
    server: str,
    workers: int,
    config_path: Path,
    url: str,
    log_dir: Path,
    wrapper_headers: dict[str, str] | None = None,
    pin_workers: bool = False,
    wrapper_threads: int | None = 1,
    wrapper_workers: int | None = None,
) -> list[ServerProcess]:
    """The wrapper and the ceiling under `server`, each on its own free loopback port.
    With `wrapper_headers` (credentials), the wrapper authenticates every request:
    `config_path` must then have an `auth:` section. `pin_workers`: the wrapper's
    `serve --pin-workers`; `wrapper_threads` (None: serve's default) and
    `wrapper_workers` (default `workers`) its `--threads` and `--workers`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_CEILING_URL": url}
    result = []
    for app in APPS:
        port = free_port()
        bind = f"127.0.0.1:{port}"
        if app == "wrapper":
            argv = [
                str(BIN / "legacy-wrapper"), "serve", "--config", str(config_path),
                *(() if wrapper_headers else ("--no-auth",)),
                "--bind", bind, "--workers", str(wrapper_workers or workers),
                "--server", server,
                # 1 as the ceiling: sync gunicorn, one granian thread
                *(("--threads", str(wrapper_threads)) if wrapper_threads else ()),
                *(("--pin-workers",) if pin_workers else ()),
            ]  # fmt: skip
        elif server == "gunicorn":
            # The wrapper's gunicorn settings: sync workers, keep-alive 5, no access log.
            argv = [
                str(BIN / "gunicorn"), "-w", str(workers), "-b", bind,
                "--keep-alive", "5", "bench.ceiling:app",
            ]  # fmt: skip
        else:
            argv = [
                str(BIN / "granian"), "--interface", "wsgi", "--workers", str(workers),
                "--blocking-threads", "1", "--host", "127.0.0.1", "--port", str(port),
                "bench.ceiling:app",
            ]  # fmt: skip
        log_path = log_dir / f"{app}-{server}-{workers}w.log"
        headers = (wrapper_headers or {}) if app == "wrapper" else {}
        result.append(ServerProcess(app, server, port, argv, env, log_path, headers))
    return result


@contextmanager
def running(
    processes: list[ServerProcess], probe: str | dict[str, str]
) -> Iterator[dict[str, float]]:
    """Start every process, wait until each answers `probe` (or its own, by app),
    and always stop them all."""
    probes = probe if isinstance(probe, dict) else {p.app: probe for p in processes}
    try:
        for p in processes:
            p.start()
        yield {p.app: round(p.wait_ready(probes[p.app]), 2) for p in processes}
    finally:
        for p in processes:
            p.stop()


# --------------------------------------------------------------------------- the run


def code_version() -> dict[str, Any]:
    """Which wrapper code was measured: its folder, the commit and uncommitted changes."""
    import wrapper

    info: dict[str, Any] = {
        "wrapper": str(Path(wrapper.__file__).resolve().parent),
        "label": os.environ.get("BENCH_CODE_VERSION"),
    }
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    if head.returncode == 0:
        info["commit"] = head.stdout.strip()
        status = subprocess.run(
            [*git, "status", "--porcelain", "--", "wrapper", "legacy_adapters"],
            capture_output=True,
            text=True,
            check=False,
        )
        info["uncommitted"] = status.stdout.splitlines()
    return info


def measure(
    name: str,
    by_app: dict[str, ServerProcess],
    keys: dict[str, Any],
    check: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, dict[str, Any]]:
    """Warm both apps up, then measure them in alternating slices (A B B A A B ...).

    Besides wrk's numbers, each slice records the CPU time the app's server
    processes used per request (less sensitive to other programs on the machine
    than req/s; on PostgreSQL the database server's share is left out) and the
    share of the machine's CPU that other programs took meanwhile.
    """
    targets = {
        app: (by_app[app].base_url, workload_paths(name, keys, check["deep_cursor"][app]["cursor"]))
        for app in APPS
    }
    for base, paths in targets.values():
        if args.warmup:
            loadgen.run_load(base, paths, args.warmup, args.connections, args.threads)
    slices: dict[str, list[dict[str, Any]]] = {app: [] for app in APPS}
    group = {app: p.proc.pid for app, p in by_app.items() if p.proc is not None}
    database = PG_DATABASE if args.backend == "postgresql" else None
    outside: dict[str, list[float]] = {app: [] for app in APPS}
    server_cpu: dict[str, float] = dict.fromkeys(APPS, 0.0)
    for round_no in range(args.rounds):
        for app in APPS if round_no % 2 == 0 else APPS[::-1]:
            base, paths = targets[app]
            before = CpuSample.take(set(group.values()), database)
            slices[app].append(
                loadgen.run_load(
                    base, paths, args.duration / args.rounds, args.connections, args.threads
                )
            )
            after = CpuSample.take(set(group.values()), database)
            outside[app].append(after.outside_share(before))
            server_cpu[app] += after.groups.get(group[app], 0.0) - before.groups.get(
                group[app], 0.0
            )
    result = {app: loadgen.combine(slices[app]) for app in APPS}
    for app in APPS:
        result[app]["outside_cpu_pct"] = round(100 * sum(outside[app]) / len(outside[app]), 1)
        requests = result[app]["requests"]
        result[app]["server_cpu_us"] = round(server_cpu[app] / requests * 1e6, 1) if requests else 0
    return result


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _serves(proc_dir: Path, database: str) -> bool:
    """A PostgreSQL backend connected to `database` ("postgres: USER DATABASE HOST ...")."""
    try:
        title = (proc_dir / "cmdline").read_bytes()
    except OSError:
        return False
    return title.startswith(b"postgres: ") and f" {database} ".encode() in title


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds of the whole machine, of each server's process group, and of
    everything the benchmark runs (servers, database backends serving it, the
    load generator, this process)."""

    busy: float
    total: float
    ours: float
    groups: dict[int, float]

    @classmethod
    def take(cls, process_groups: set[int], database: str | None = None) -> CpuSample:
        """`database`: also count PostgreSQL backends serving that database as ours."""
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        total = sum(values) / _CLOCK_TICKS
        busy = total - (values[3] + values[4]) / _CLOCK_TICKS  # less idle and iowait
        groups = dict.fromkeys(process_groups, 0.0)
        backends = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            seconds = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime + stime
            pgrp = int(fields[2])
            if pgrp in groups:
                groups[pgrp] += seconds
            elif database and _serves(stat.parent, database):
                backends += seconds
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # finished wrk runs
        ours = (
            sum(groups.values())
            + backends
            + children.ru_utime
            + children.ru_stime
            + time.process_time()
        )
        return cls(busy, total, ours, groups)

    def outside_share(self, before: CpuSample) -> float:
        """The share of all CPU time since `before` used by other programs (0..1)."""
        total = self.total - before.total
        other = (self.busy - before.busy) - (self.ours - before.ours)
        return max(0.0, other / total) if total > 0 else 0.0


def _label(server: str, workers: int) -> str:
    return f"{server} x{workers}"


def format_table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'workload':<18} {'server':<12} {'backend':<10} "
        f"{'wrapper r/s':>11} {'p50 ms':>7} {'p99 ms':>7}  "
        f"{'ceiling r/s':>11} {'p50 ms':>7} {'p99 ms':>7}  {'ratio':>5}  {'other':>5}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        w, c = r["wrapper"], r["ceiling"]
        lines.append(
            f"{r['workload']:<18} {r['server']:<12} {r['backend']:<10} "
            f"{w['rps']:>11,.0f} {w['p50_ms']:>7.2f} {w['p99_ms']:>7.2f}  "
            f"{c['rps']:>11,.0f} {c['p50_ms']:>7.2f} {c['p99_ms']:>7.2f}  {r['ratio']:>5.2f}"
            f"  {r['outside_cpu_pct']:>4.0f}%"
        )
    lines.append(
        "ratio = wrapper req/s / ceiling req/s; other = share of the machine's CPU "
        "taken by other programs meanwhile"
    )
    return "\n".join(lines)


def format_server_cpu_table(rows: list[dict[str, Any]]) -> str:
    header = (
        f"{'server CPU/request':<18} {'server':<12} {'backend':<10} "
        f"{'wrapper us':>10} {'ceiling us':>10}  {'cpu ratio':>9}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        w, c = r["wrapper"]["server_cpu_us"], r["ceiling"]["server_cpu_us"]
        lines.append(
            f"{r['workload']:<18} {r['server']:<12} {r['backend']:<10} "
            f"{w:>10,.0f} {c:>10,.0f}  {(c / w if w else 0.0):>9.2f}"
        )
    lines.append(
        "CPU time of each app's server processes (HTTP server, app, driver; on SQLite the "
        "database too) per request; cpu ratio = ceiling / wrapper"
    )
    return "\n".join(lines)


def format_cpu_table(cpu: dict[str, dict[str, dict[str, float]]], backend: str) -> str:
    header = (
        f"{'in-process':<18} {'backend':<10} {'wrapper cpu us':>14} {'wall us':>8}  "
        f"{'ceiling cpu us':>14} {'wall us':>8}  {'cpu ratio':>9}"
    )
    lines = [header, "-" * len(header)]
    for name, m in cpu.items():
        w, c = m["wrapper"], m["ceiling"]
        ratio = c["cpu_us"] / w["cpu_us"] if w["cpu_us"] else 0.0
        lines.append(
            f"{name:<18} {backend:<10} {w['cpu_us']:>14,.0f} {w['wall_us']:>8,.0f}  "
            f"{c['cpu_us']:>14,.0f} {c['wall_us']:>8,.0f}  {ratio:>9.2f}"
        )
    lines.append("cpu ratio = ceiling CPU / wrapper CPU per request (1.0: no overhead)")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--orders", type=int, default=200_000, help="database size (orders)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up load")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="slices per measurement, alternating wrapper and ceiling (duration/rounds each)",
    )
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--servers", default="gunicorn,granian", help="comma-separated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--workloads",
        default=",".join(w.name for w in WORKLOADS),
        help="comma-separated subset of: " + ", ".join(w.name for w in WORKLOADS),
    )
    parser.add_argument("--keys", type=int, default=2000, help="job ids and customers to rotate")
    parser.add_argument(
        "--cpu-requests",
        type=int,
        default=1000,
        help="in-process requests per workload and app for the CPU table (0: skip)",
    )
    parser.add_argument("--prepare-only", action="store_true", help="build the database and stop")
    args = parser.parse_args(argv)
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(args.servers) - {"gunicorn", "granian"}
    if unknown:
        parser.error(f"unknown servers {sorted(unknown)}")
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(args.workloads) - {w.name for w in WORKLOADS}
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}")
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--duration takes 1..600 s and --warmup 0..60 s")
    if args.rounds < 1 or args.duration / args.rounds < 1:
        parser.error("--rounds must be at least 1 and leave at least 1 s per slice")
    return args


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Stopping the run (Ctrl-C, kill, even when started in the background with
    # SIGINT ignored) still runs the `finally` that stops every server.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    url = prepare(args.backend, args.orders)
    if args.prepare_only:
        return 0
    config_path = write_config(url, DATA_DIR / f"wrapper-{args.backend}.yaml")
    keys = sample_keys(url, args.keys)
    log.info(
        "sampled %d job ids and %d customers; %d orders",
        len(keys["job_ids"]),
        len(keys["customers"]),
        keys["orders"],
    )
    log.info("in-process: same SQL? same rows? CPU per request? (no HTTP server)")
    check = check_in_process(config_path, url, keys, cpu_requests=args.cpu_requests)
    for name, sql in check["sql"].items():
        if not sql["same"] and sql["same_without_casts"]:
            log.info("%s: same SQL and values; only ::TYPE casts of parameters differ", name)
        elif not sql["same"]:
            log.warning("%s: the SQL differs:\n  wrapper %s\n  ceiling %s",
                        name, sql["wrapper"], sql["ceiling"])  # fmt: skip
    for name, fields in check["row_differences"].items():
        log.warning("%s: rendered rows differ: %s", name, json.dumps(fields, default=str))
    generator = loadgen.describe()
    log.info("load generator: %s", generator)

    rows: list[dict[str, Any]] = []
    startup: dict[str, Any] = {}
    log_dir = DATA_DIR / "logs" / stamp
    probe = f"/v1/jobs/{keys['job_ids'][0]}"
    for server in args.servers:
        label = _label(server, args.workers)
        processes = server_processes(server, args.workers, config_path, url, log_dir)
        by_app = {p.app: p for p in processes}
        with running(processes, probe) as ready:
            startup[label] = ready
            log.info("%s ready: %s", label, ", ".join(f"{a} {s} s" for a, s in ready.items()))
            for name in args.workloads:
                loadavg = os.getloadavg()
                measured = measure(name, by_app, keys, check, args)
                for app in APPS:
                    if not by_app[app].alive():
                        raise RuntimeError(f"{app} under {label} died:\n{by_app[app].log_tail()}")
                    if measured[app]["error_count"]:
                        log.warning("%s %s %s: errors %s", name, label, app,
                                    measured[app]["errors"])  # fmt: skip
                ceiling_rps = measured["ceiling"]["rps"]
                row = {
                    "workload": name,
                    "server": label,
                    "backend": args.backend,
                    "wrapper": measured["wrapper"],
                    "ceiling": measured["ceiling"],
                    "ratio": round(measured["wrapper"]["rps"] / ceiling_rps, 3)
                    if ceiling_rps
                    else 0.0,
                    "loadavg_before": [round(x, 2) for x in loadavg],
                    "outside_cpu_pct": round(
                        (
                            measured["wrapper"]["outside_cpu_pct"]
                            + measured["ceiling"]["outside_cpu_pct"]
                        )
                        / 2,
                        1,
                    ),
                }
                rows.append(row)
                log.info("%s %s: wrapper %.0f req/s, ceiling %.0f req/s, ratio %.2f",
                         name, label, measured["wrapper"]["rps"], ceiling_rps,
                         row["ratio"])  # fmt: skip

    print()
    print(format_table(rows))
    if rows:
        print()
        print(format_server_cpu_table(rows))
    if check["cpu"]:
        print()
        print(format_cpu_table(check["cpu"], args.backend))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"{stamp}.json"
    document = {
        "started": stamp,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "args": {k: v for k, v in vars(args).items() if k != "prepare_only"},
        "load_generator": generator,
        "code": code_version(),
        "database": {"backend": args.backend, "orders": keys["orders"]},
        "workloads": {w.name: w.description for w in WORKLOADS},
        "startup_seconds": startup,
        "checks": check,
        "results": rows,
    }
    out.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
