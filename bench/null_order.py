"""The dashboard query with each database's own NULL order against the old
explicit one (a leading `CASE WHEN col IS NULL` term in ORDER BY).

On the demo plant database (``--orders``) of each backend, two queries through
the SQL source, first page (51 rows) and a page after a cursor, each timed as
the median of ``--repeat`` runs:

- ``demo``: the README's dashboard, ``/v1/jobs?work_center=WC03&status=running
  &sort=due_date``: JOBSCHED by IX_JOB_WC (WRK_CTR, STAT, DUE_DT). DUE_DT is NOT
  NULL, so both orders are the same SQL: a control.
- ``nullable``: ``work_center=WC03&sort=due_date`` on a jobs table whose due
  date is nullable (every 7th job has none), indexed on (work_center,
  due_date), built next to the demo tables with as many jobs as JOBSCHED.

    python -m bench.null_order --backends sqlite,postgresql --orders 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from fixtures.databases import temporary_database
from legacy_adapters.base import Condition, Order, Select, TableRef
from legacy_adapters.sql import SQLAlchemySource
from legacy_adapters.sql.statements import StatementCache
from wrapper.demo import plant

NULLABLE = TableRef("DASH_JOBS")


def build_nullable(url: str, rows: int) -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "DASH_JOBS",
        metadata,
        sa.Column("JOB_NO", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("WRK_CTR", sa.CHAR(4), nullable=False),
        sa.Column("DUE_DATE", sa.Date, nullable=True),
        sa.Column("OPER_NM", sa.CHAR(20)),
        sa.Index("IX_DASH_WC_DUE", "WRK_CTR", "DUE_DATE"),
    )
    rng = random.Random(7)
    engine = sa.create_engine(url)
    try:
        metadata.drop_all(engine)
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                table.insert(),
                [
                    {
                        "JOB_NO": n,
                        "WRK_CTR": f"WC{rng.randrange(1, 13):02d}",
                        "DUE_DATE": None
                        if n % 7 == 0
                        else dt.date(2026, 1, 1) + dt.timedelta(rng.randrange(365)),
                        "OPER_NM": "OPERATOR",
                    }
                    for n in range(1, rows + 1)
                ],
            )
            analyze = "ANALYZE TABLE DASH_JOBS" if engine.dialect.name == "mysql" else "ANALYZE"
            conn.exec_driver_sql(analyze)
    finally:
        engine.dispose()


def queries() -> dict[str, tuple[Select, Select]]:
    demo_where = (Condition("WRK_CTR", "eq", "WC03"), Condition("STAT", "eq", "RN"))
    demo_order = (Order("DUE_DT"), Order("JOB_NO"))
    demo = Select(TableRef("JOBSCHED"), ("JOB_NO", "DUE_DT"), demo_where, demo_order, limit=51)
    where = (Condition("WRK_CTR", "eq", "WC03"),)
    order = (Order("DUE_DATE"), Order("JOB_NO"))
    nullable = Select(NULLABLE, ("JOB_NO", "DUE_DATE"), where, order, limit=51)
    return {
        "demo": (demo, _after(demo, (20260301, 1))),
        "nullable": (nullable, _after(nullable, (dt.date(2026, 6, 1), 1))),
    }


def _after(query: Select, after: tuple) -> Select:
    return Select(query.table, query.columns, query.where, query.order_by, after, limit=51)


def median_ms(source: SQLAlchemySource, query: Select, repeat: int) -> float:
    source.select(query)  # warm the statement cache and the pool
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        source.select(query)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(url: str, repeat: int) -> list[dict[str, object]]:
    results = []
    for order_kind in ("explicit", "native"):
        source = SQLAlchemySource(url)
        if order_kind == "explicit":  # the statements as built before: CASE first
            source._statements = StatementCache(nulls="explicit")
        source.reflect(tables=[TableRef("JOBSCHED"), NULLABLE])
        try:
            for name, (first, later) in queries().items():
                for page, query in (("first", first), ("after cursor", later)):
                    ms = median_ms(source, query, repeat)
                    rows = len(source.select(query))
                    results.append(
                        {"query": name, "page": page, "order": order_kind, "ms": ms, "rows": rows}
                    )
        finally:
            source.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql,mariadb")
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print("| backend | jobs | query | page | rows | explicit (CASE) ms | native ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp, temporary_database(backend, Path(tmp)) as url:
            counts = plant.build(url, orders=args.orders)
            build_nullable(url, counts["JOBSCHED"])
            rows = measure(url, args.repeat)
            by_key = {(r["query"], r["page"], r["order"]): r for r in rows}
            for query, page in sorted({(r["query"], r["page"]) for r in rows}):
                old, new = by_key[(query, page, "explicit")], by_key[(query, page, "native")]
                print(
                    f"| {backend} | {counts['JOBSCHED']} | {query} | {page} | {new['rows']} "
                    f"| {old['ms']:.2f} | {new['ms']:.2f} |"
                )


if __name__ == "__main__":
    main()
