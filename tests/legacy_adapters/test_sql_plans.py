"""The legacy indexes serve what the wrapper asks, on every SQL backend: the
database's own EXPLAIN of the statements the source runs (parameters bound)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from legacy_adapters.base import Condition, Order, Related, Select, TableRef
from legacy_adapters.sql import SQLAlchemySource

ORDHDR, ORDLINE, JOBSCHED = TableRef("ORDHDR"), TableRef("ORDLINE"), TableRef("JOBSCHED")


@pytest.fixture(scope="module")
def source(demo_url: str) -> Iterator[SQLAlchemySource]:
    src = SQLAlchemySource(demo_url)
    src.reflect(tables=[ORDHDR, ORDLINE, JOBSCHED])
    yield src
    src.close()


def plan(source: SQLAlchemySource, query: Select) -> str:
    stmt, params = source.build(query)
    return explain(source, stmt, params)


def explain(
    source: SQLAlchemySource,
    stmt: sa.Select,
    params: dict,
    pg_settings: tuple[str, ...] = ("enable_seqscan = off",),
) -> str:
    """The database's plan for `stmt` (PostgreSQL: with `pg_settings` applied)."""
    compiled = stmt.params(params).compile(
        dialect=source.engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    sql, values = str(compiled), compiled.params
    if compiled.positiontup:
        values = tuple(compiled.params[name] for name in compiled.positiontup)
    with source.engine.connect() as conn:
        if source.dialect == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", values).all()
            return "\n".join(str(r[-1]) for r in rows)
        if source.dialect == "postgresql":
            for setting in pg_settings:
                conn.exec_driver_sql(f"SET {setting}")
            return "\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}", values).scalars())
        rows = conn.exec_driver_sql(f"EXPLAIN {sql}", values).mappings().all()
        return "\n".join(
            f"{r['table']} type={r['type']} key={r['key']} extra={r['Extra']}" for r in rows
        )


def full_scans(source: SQLAlchemySource, text: str) -> list[str]:
    """The plan lines that read a whole table instead of an index."""
    lines = text.splitlines()
    if source.dialect == "sqlite":
        return [line for line in lines if line.startswith("SCAN")]  # a whole table or index
    if source.dialect == "postgresql":
        return [line for line in lines if "Seq Scan" in line]
    return [line for line in lines if "type=ALL" in line]


# PostgreSQL picks a bitmap scan and a sort for a few dozen rows, which is fine;
# with sorts and bitmap scans priced out, a sort left in the plan means no index
# can deliver the order.
INDEX_ORDER_ONLY = ("enable_seqscan = off", "enable_bitmapscan = off", "enable_sort = off")


def sort_steps(source: SQLAlchemySource, text: str) -> list[str]:
    """Plan lines that sort rows the index did not deliver in order. PostgreSQL's
    incremental sort only orders the rows of one due date by key (the index has
    no key column): it reads the index in order and is not counted."""
    if source.dialect == "sqlite":
        return [line for line in text.splitlines() if "TEMP B-TREE" in line]
    if source.dialect == "postgresql":
        return [
            line for line in text.splitlines() if re.search(r"(^|->\s+)Sort\s+\(", line.strip())
        ]
    return [line for line in text.splitlines() if "filesort" in line.lower()]


def test_a_row_rule_through_a_relation_is_served_by_indexes(source: SQLAlchemySource) -> None:
    """Order lines visible through their order's customer: a semi-join the order
    indexes (customer, primary key) and the lines' primary key serve."""
    rule = Related(("ORD_NO",), ORDHDR, ("ORD_NO",), (Condition("CUST_NO", "eq", "C0001005"),))
    page = Select(
        ORDLINE,
        ("ORD_NO", "LINE_NO", "QTY"),
        (rule,),
        (Order("ORD_NO"), Order("LINE_NO")),
        limit=51,
    )
    item = Select(
        ORDLINE,
        ("ORD_NO", "LINE_NO"),
        (rule, Condition("ORD_NO", "eq", "O000000001"), Condition("LINE_NO", "eq", 1)),
        limit=2,
    )
    later = Select(
        ORDLINE,
        ("ORD_NO", "LINE_NO"),
        (rule,),
        (Order("ORD_NO"), Order("LINE_NO")),
        after=("O000000100", 2),
        limit=51,
    )
    for query in (page, item, later):
        text = plan(source, query)
        assert not full_scans(source, text), text
    assert source.select(page)  # and it finds the customer's lines


def test_the_check_can_fail(source: SQLAlchemySource) -> None:
    """A condition on an unindexed column does scan: the check above is not vacuous."""
    scan = Select(ORDLINE, ("ORD_NO",), (Condition("QTY", "eq", 3),), limit=2)
    assert full_scans(source, plan(source, scan))


def test_the_demo_dashboard_reads_its_index_in_order(source: SQLAlchemySource) -> None:
    """`/v1/jobs?work_center=WC03&status=running&sort=due_date`: equality on the
    first two columns of IX_JOB_WC (WRK_CTR, STAT, DUE_DT), sorted on the third."""
    where = (Condition("WRK_CTR", "eq", "WC03"), Condition("STAT", "eq", "RN"))
    for descending in (False, True):
        order = (Order("DUE_DT", descending), Order("JOB_NO", descending))
        for after in (None, (20260115, 100)):
            query = Select(JOBSCHED, ("JOB_NO", "DUE_DT"), where, order, after=after, limit=51)
            text = explain(source, *source.build(query), INDEX_ORDER_ONLY)
            assert "IX_JOB_WC" in text and not sort_steps(source, text), text
