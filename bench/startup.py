"""Start-up on a wide legacy catalogue: `inspect` over 2,000 tables, and an app
that maps 3 of them (only mapped tables are reflected at serve time).

    python -m bench.startup [--backend sqlite,postgresql] [--tables 2000] [--repeat 3]

Measures, each in a fresh process and repeated:

- `legacy-wrapper inspect --source URL > /dev/null` (wall time of the command);
- `create_app` for a configuration mapping 3 of the tables (the call alone,
  after importing the wrapper and SQLAlchemy, and the whole process);
- `legacy-wrapper serve` (gunicorn, 2 workers) until the first 200 answer.

The catalogue is built once: a cached SQLite file under bench/.data/, and the
PostgreSQL database `lw_bench_wide`, reused while it holds the tables.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.databases import DATA_DIR, PG_SERVER_URL
from bench.run import BIN, RESULTS_DIR, ROOT, ServerProcess, _exit_on_signal, free_port
from fixtures import wide_catalog

log = logging.getLogger("bench")

PG_DATABASE = "lw_bench_wide"
MAPPED = 3

_CREATE_APP = """
import inspect, json, sys, time
started = time.perf_counter()
from wrapper.app import create_app
from wrapper.config import load_config
import legacy_adapters.sql  # imported lazily by create_app: time it here
imported = time.perf_counter()
no_auth = {"no_auth": True} if "no_auth" in inspect.signature(create_app).parameters else {}
app = create_app(load_config(sys.argv[1]), **no_auth)
created = time.perf_counter()
state = app.extensions["legacy_wrapper"]
print(json.dumps({"import_s": imported - started, "create_app_s": created - imported,
                  "reflected_tables": sum(len(s.tables) for s in state.schemas.values())}))
state.close()
"""


def _table_count(url: str) -> int:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return len(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def prepare_catalogue(backend: str, tables: int) -> str:
    """The URL of the wide catalogue on `backend`, built when missing."""
    if backend == "sqlite":
        path = DATA_DIR / f"wide-{tables}.db"
        url = f"sqlite:///{path}"
        if path.exists() and _table_count(url) == tables:
            return url
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        building = path.with_suffix(".building")
        building.unlink(missing_ok=True)
        log.info("building a %d-table catalogue in %s", tables, path)
        wide_catalog.build(f"sqlite:///{building}", tables=tables)
        building.replace(path)
        return url
    server = make_url(PG_SERVER_URL)
    url = server.set(database=PG_DATABASE).render_as_string(hide_password=False)
    admin = sa.create_engine(
        server.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    try:
        with admin.connect() as conn:
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": PG_DATABASE}
            ).first()
            if exists and _table_count(url) == tables:
                return url
            if exists:
                conn.exec_driver_sql(f'DROP DATABASE "{PG_DATABASE}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{PG_DATABASE}"')
    finally:
        admin.dispose()
    log.info("building a %d-table catalogue in PostgreSQL database %s", tables, PG_DATABASE)
    wide_catalog.build(url, tables=tables)
    return url


def write_config(url: str, tables: int, path: Path) -> tuple[Path, list[str]]:
    """A configuration mapping `MAPPED` keyed tables spread over the catalogue."""
    catalogue = [t for t in wide_catalog.define(sa.MetaData(), tables=tables) if t.primary_key]
    step = max(1, len(catalogue) // MAPPED)
    chosen = catalogue[step // 2 :: step][:MAPPED]
    lines = [
        "source:",
        f"  url: {json.dumps(url)}",
        "versions:",
        "  v1:",
        "    title: Wide catalogue",
        "    resources:",
    ]
    for table in chosen:
        lines += [f"      {table.name.lower()}:", f"        table: {table.name}", "        fields:"]
        lines += [f"          {c.name.lower()}: {c.name}" for c in table.columns]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, [t.name for t in chosen]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def time_inspect(url: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(BIN / "legacy-wrapper"), "inspect", "--source", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
        cwd=ROOT,
        check=True,
        timeout=600,
    )
    return time.perf_counter() - started


def time_create_app(config_path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _CREATE_APP, str(config_path)],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        check=True,
        timeout=300,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def time_serve(config_path: Path, probe: str, workers: int = 2) -> float:
    """Seconds from starting `legacy-wrapper serve` to its first 200 answer."""
    port = free_port()
    argv = [
        str(BIN / "legacy-wrapper"), "serve", "--config", str(config_path), "--no-auth",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--server", "gunicorn",
    ]  # fmt: skip
    log_path = DATA_DIR / "logs" / f"startup-serve-{port}.log"
    process = ServerProcess("wrapper", "gunicorn", port, argv, _env(), log_path)
    started = time.perf_counter()
    process.start()
    try:
        while time.perf_counter() - started < 300:
            if not process.alive():
                raise RuntimeError(f"serve exited:\n{process.log_tail()}")
            try:
                with urllib.request.urlopen(process.base_url + probe, timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"serve not ready after 300 s:\n{process.log_tail()}")
    finally:
        process.stop()


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def measure(backend: str, tables: int, repeat: int) -> dict[str, Any]:
    url = prepare_catalogue(backend, tables)
    config_path, mapped = write_config(url, tables, DATA_DIR / f"wide-{backend}.yaml")
    inspect = [time_inspect(url) for _ in range(repeat)]
    created = [time_create_app(config_path) for _ in range(repeat)]
    serve = [time_serve(config_path, f"/v1/{mapped[0].lower()}?limit=1") for _ in range(repeat)]
    return {
        "backend": backend,
        "tables": tables,
        "mapped": mapped,
        "reflected_tables": created[0]["reflected_tables"],
        "inspect_s": _stats(inspect),
        "create_app_s": _stats([c["create_app_s"] for c in created]),
        "import_s": _stats([c["import_s"] for c in created]),
        "create_app_process_s": _stats([c["process_s"] for c in created]),
        "serve_first_200_s": _stats(serve),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.startup", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--backend", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # stop the server being timed, too
    signal.signal(signal.SIGINT, _exit_on_signal)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    results = []
    for backend in backends:
        log.info("%s: %d tables, %d runs each", backend, args.tables, args.repeat)
        results.append(measure(backend, args.tables, args.repeat))
    print()
    print(
        f"{'backend':<11} {'tables':>6} {'inspect s':>10} {'create_app s':>12} "
        f"{'(+imports) s':>12} {'serve to 1st 200 s':>18}   (medians of {args.repeat})"
    )
    for r in results:
        print(
            f"{r['backend']:<11} {r['tables']:>6} {r['inspect_s']['median']:>10.2f} "
            f"{r['create_app_s']['median']:>12.3f} {r['create_app_process_s']['median']:>12.2f} "
            f"{r['serve_first_200_s']['median']:>18.2f}"
        )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS_DIR / f"{stamp}-startup.json"
    out.write_text(json.dumps({"started": stamp, "results": results}, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
