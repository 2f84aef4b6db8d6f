"""The benchmark database: the demo plant database, built once per size and reused.

SQLite files are cached under bench/.data/; on PostgreSQL the database
`lw_bench` is created when missing and rebuilt only when its row counts do not
match the size asked for. Row counts of a build are recorded next to the
SQLite files so that any later run (on either backend) can check a reuse.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from wrapper.demo import MAPPING, plant

log = logging.getLogger("bench")

DATA_DIR = Path(__file__).resolve().parent / ".data"
PG_SERVER_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
PG_DATABASE = "lw_bench"


def _counts_file(orders: int) -> Path:
    return DATA_DIR / f"counts-{orders}.json"


def expected_counts(orders: int) -> dict[str, int]:
    """Row counts a build of this size gave before, or the two that follow from `orders`."""
    path = _counts_file(orders)
    if path.exists():
        return dict(json.loads(path.read_text()))
    return {"ORDHDR": orders, "CUSTMAST": max(20, orders // 10)}


def table_counts(url: str, tables: list[str]) -> dict[str, int] | None:
    """Row counts of `tables` at `url`, or None when a table is missing."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            present = set(sa.inspect(conn).get_table_names())
            if not set(tables) <= present:
                return None
            quote = conn.dialect.identifier_preparer.quote
            return {
                t: int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {quote(t)}").scalar_one())
                for t in tables
            }
    finally:
        engine.dispose()


def _reusable(url: str, orders: int) -> dict[str, int] | None:
    expected = expected_counts(orders)
    found = table_counts(url, sorted(expected))
    if found != expected:
        log.info("benchmark database at %s: found %s, expected %s", _safe(url), found, expected)
        return None
    return found


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _build(url: str, orders: int) -> dict[str, int]:
    log.info("building the benchmark database (%s orders) at %s ...", f"{orders:,}", _safe(url))
    started = time.perf_counter()
    counts = plant.build(url, orders=orders)
    log.info("built in %.0f s: %s", time.perf_counter() - started, counts)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    _counts_file(orders).write_text(json.dumps(counts, indent=2))
    return counts


def prepare_sqlite(orders: int) -> str:
    """The URL of the cached SQLite benchmark database, built when missing."""
    path = DATA_DIR / f"plant-{orders}.db"
    url = f"sqlite:///{path}"
    if path.exists() and _reusable(url, orders):
        log.info("reusing %s", path)
        return url
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    building = path.with_suffix(".building")
    building.unlink(missing_ok=True)
    _build(f"sqlite:///{building}", orders)
    building.replace(path)
    return url


def prepare_postgresql(orders: int) -> str:
    """The URL of the `lw_bench` PostgreSQL database, created and built when needed."""
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
            if not exists:
                log.info("creating database %s", PG_DATABASE)
                conn.exec_driver_sql(f'CREATE DATABASE "{PG_DATABASE}"')
    finally:
        admin.dispose()
    if exists and _reusable(url, orders):
        log.info("reusing PostgreSQL database %s", PG_DATABASE)
        return url
    _build(url, orders)
    # After a bulk load: planner statistics and the visibility map, as autovacuum
    # would eventually give them, so that every run sees the same plans.
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        engine.dispose()
    return url


def prepare(backend: str, orders: int) -> str:
    """The URL of the benchmark database on `backend` ("sqlite" or "postgresql")."""
    if backend == "sqlite":
        return prepare_sqlite(orders)
    if backend == "postgresql":
        return prepare_postgresql(orders)
    raise ValueError(f"unknown backend {backend!r}")


def write_config(url: str, path: Path) -> Path:
    """The demo mapping with its source URL replaced by `url`."""
    text = MAPPING.read_text(encoding="utf-8")
    old = "url: sqlite:///plant.db"
    if old not in text:
        raise RuntimeError(f"the demo mapping no longer contains {old!r}; update bench")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace(old, f"url: {json.dumps(url)}"), encoding="utf-8")
    return path


def sample_keys(url: str, count: int, seed: int = 7) -> dict[str, Any]:
    """Existing job ids and customers with orders, sampled reproducibly, and the order count."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            jobs = [r[0] for r in conn.execute(sa.text('SELECT "JOB_NO" FROM "JOBSCHED"'))]
            customers = [
                r[0].rstrip()
                for r in conn.execute(sa.text('SELECT DISTINCT "CUST_NO" FROM "ORDHDR"'))
            ]
            orders = int(conn.execute(sa.text('SELECT COUNT(*) FROM "ORDHDR"')).scalar_one())
    finally:
        engine.dispose()
    rng = random.Random(seed)
    jobs.sort()
    customers.sort()
    return {
        "job_ids": rng.sample(jobs, min(count, len(jobs))),
        "customers": rng.sample(customers, min(count, len(customers))),
        "orders": orders,
    }
