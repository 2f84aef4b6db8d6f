"""The ODBC source against the SQLAlchemy source on the same database.

    python -m bench.odbc [--backends sqlite,postgresql] [--orders 200000] [--seconds 3] [--rounds 3]

Runs the adapters directly (no HTTP, no rendering: the part of a request the
adapter owns) in one process, on the benchmark's demo plant database
(`bench/databases.py`: a cached SQLite file, the PostgreSQL database
`lw_bench`), each backend reached both ways: through SQLAlchemy and through
its ODBC driver (`fixtures/odbc.py`). Workloads:

- get-by-key: one order by its CHAR(10) key, rotating over 2,000 sampled keys;
- keyset-page: jobs of one work centre and status sorted by due date, the
  second page of 50 (the cursor is the last row of the first page);
- keyless-page: 50 rows of the keyless activity log sorted by every column,
  starting half-way through the table (a deep keyset page).

Both sources first must return the same rows for every workload. Each
measurement alternates the two sources in `--rounds` slices of `--seconds`
and reports the median queries per second and the ratio ODBC / SQLAlchemy.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from bench.databases import prepare
from fixtures import odbc
from legacy_adapters.base import Condition, Order, Select, Source, TableRef
from legacy_adapters.odbc import OdbcSource
from legacy_adapters.sql import SQLAlchemySource

ORDHDR, JOBSCHED, ACTLOG = TableRef("ORDHDR"), TableRef("JOBSCHED"), TableRef("ACTLOG")
ORDER_COLUMNS = ("ORD_NO", "CUST_NO", "ORD_DT", "STAT", "TOT_AMT", "RUSH_FL")
JOB_COLUMNS = ("JOB_NO", "ORD_NO", "WRK_CTR", "STAT", "DUE_DT", "OPER_NM")
LOG_COLUMNS = ("LOG_DT", "LOG_TM", "USER_ID", "MSG")

Workload = Callable[[int], Select]


def _scalar_rows(url: str, sql: str) -> list[Any]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return [r[0] for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def workloads(url: str, reference: Source) -> dict[str, Workload]:
    keys = [k.rstrip() for k in _scalar_rows(url, 'SELECT "ORD_NO" FROM "ORDHDR"')][::7][:2000]
    jobs_where = (Condition("WRK_CTR", "eq", "WC03"), Condition("STAT", "eq", "RN"))
    jobs_order = (Order("DUE_DT"), Order("JOB_NO"))
    first = reference.select(Select(JOBSCHED, JOB_COLUMNS, jobs_where, jobs_order, limit=50))
    after_job = (first[-1][4], first[-1][0])
    log_order = tuple(Order(c) for c in LOG_COLUMNS)
    count = reference.count(Select(ACTLOG, ()))[0]
    middle = reference.select(Select(ACTLOG, LOG_COLUMNS, (), log_order, limit=count // 2))[-1]
    return {
        "get-by-key": lambda i: Select(
            ORDHDR, ORDER_COLUMNS, (Condition("ORD_NO", "eq", keys[i % len(keys)]),)
        ),
        "keyset-page": lambda i: Select(
            JOBSCHED, JOB_COLUMNS, jobs_where, jobs_order, after=after_job, limit=50
        ),
        "keyless-page": lambda i: Select(
            ACTLOG, LOG_COLUMNS, (), log_order, after=tuple(middle), limit=50
        ),
    }


def rate(source: Source, workload: Workload, seconds: float) -> float:
    done, started = 0, time.perf_counter()
    deadline = started + seconds
    while True:
        for _ in range(20):
            source.select(workload(done))
            done += 1
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - started)


def _normalized(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [tuple(v.rstrip() if isinstance(v, str) else v for v in r) for r in rows]


def measure(
    backend: str, url: str, seconds: float, rounds: int
) -> Iterator[tuple[str, float, float]]:
    sql = SQLAlchemySource(url)
    via_odbc = OdbcSource(odbc.connection_string(url))
    try:
        tables = [ORDHDR, JOBSCHED, ACTLOG]
        sql.reflect(tables=tables)
        via_odbc.reflect(tables=tables)
        for name, workload in workloads(url, sql).items():
            for i in range(50):
                want = _normalized(list(sql.select(workload(i))))
                assert want, f"{name} returns no rows"
                assert _normalized(via_odbc.select(workload(i))) == want, f"{name}: rows differ"
            rate(sql, workload, 0.5)
            rate(via_odbc, workload, 0.5)
            sql_rates, odbc_rates = [], []
            for r in range(rounds):
                pair = [(sql, sql_rates), (via_odbc, odbc_rates)]
                for source, rates in pair if r % 2 == 0 else reversed(pair):
                    rates.append(rate(source, workload, seconds))
            yield name, statistics.median(sql_rates), statistics.median(odbc_rates)
    finally:
        sql.close()
        via_odbc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(f"{'backend':<11} {'workload':<13} {'SQLAlchemy q/s':>15} {'ODBC q/s':>10} {'ratio':>6}")
    for backend in args.backends.split(","):
        url = prepare(backend, args.orders)
        for name, sql_rate, odbc_rate in measure(backend, url, args.seconds, args.rounds):
            print(
                f"{backend:<11} {name:<13} {sql_rate:>15,.0f} {odbc_rate:>10,.0f} "
                f"{odbc_rate / sql_rate:>6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
