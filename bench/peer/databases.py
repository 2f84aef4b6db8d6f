"""Platformatic's copies of the benchmark database, made once from the wrapper's.

Platformatic DB refuses a CHAR (or SMALLINT) primary key on SQLite, so its
SQLite file is a copy with every CHAR(n) column declared VARCHAR(n) and every
SMALLINT one INTEGER (same rows, same indexes; SQLite stores them alike). On
PostgreSQL it gets its own database, `lw_bench_peer`, created from `lw_bench`
as a template (a file copy), so that neither server's connections or caches
favour the other's.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.databases import DATA_DIR, PG_DATABASE, PG_SERVER_URL, expected_counts, table_counts

log = logging.getLogger("bench")
PEER_PG_DATABASE = f"{PG_DATABASE}_peer"
_CHAR = re.compile(r'("[^"]+"\s+)CHAR\(', re.IGNORECASE)
_SMALLINT = re.compile(r'("[^"]+"\s+)SMALLINT\b', re.IGNORECASE)


def sqlite_copy(orders: int, source: Path) -> Path:
    """`source` with VARCHAR(n) for CHAR(n), cached next to it."""
    path = DATA_DIR / f"peer-plant-{orders}.db"
    if path.exists() and table_counts(f"sqlite:///{path}", sorted(expected_counts(orders))) == (
        expected_counts(orders)
    ):
        return path
    started = time.perf_counter()
    building = path.with_suffix(".building")
    building.unlink(missing_ok=True)
    target = sqlite3.connect(building)
    try:
        target.execute("ATTACH DATABASE ? AS src", (f"file:{source}?mode=ro",))
        ddl = target.execute(
            "SELECT type, name, sql FROM src.sqlite_master WHERE sql IS NOT NULL "
            "ORDER BY type = 'index'"
        ).fetchall()
        for kind, name, sql in ddl:
            if kind == "table":
                sql = _SMALLINT.sub(r"\1INTEGER", _CHAR.sub(r"\1VARCHAR(", sql))
                target.execute(sql)
                target.execute(f'INSERT INTO main."{name}" SELECT * FROM src."{name}"')
            elif kind == "index":
                target.execute(sql)
        target.commit()
        target.execute("DETACH DATABASE src")
        target.execute("ANALYZE")
    finally:
        target.close()
    building.replace(path)
    log.info("Platformatic's SQLite copy (VARCHAR keys) in %.0f s", time.perf_counter() - started)
    return path


def postgresql_copy(orders: int) -> str:
    """The URL of `lw_bench_peer`, a copy of `lw_bench` made when missing or stale."""
    server = make_url(PG_SERVER_URL)
    url = server.set(database=PEER_PG_DATABASE)
    if _exists(PEER_PG_DATABASE) and table_counts(
        url.render_as_string(hide_password=False), sorted(expected_counts(orders))
    ) == expected_counts(orders):
        return _node_url(url)
    admin = sa.create_engine(
        server.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    started = time.perf_counter()
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{PEER_PG_DATABASE}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{PEER_PG_DATABASE}" TEMPLATE "{PG_DATABASE}"')
    finally:
        admin.dispose()
    log.info("Platformatic's PostgreSQL copy in %.0f s", time.perf_counter() - started)
    return _node_url(url)


def _exists(database: str) -> bool:
    admin = sa.create_engine(
        make_url(PG_SERVER_URL).set(database="postgres"), poolclass=sa.NullPool
    )
    try:
        with admin.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %(name)s", {"name": database}
            ).first()
            return found is not None
    finally:
        admin.dispose()


def _node_url(url: sa.URL) -> str:
    """The same database as a libpq URL (no SQLAlchemy driver name)."""
    return url.set(drivername="postgres").render_as_string(hide_password=False)
