"""The ODBC source on the real drivers: read-only sessions, parameters typed as
the columns they are compared with, capabilities refused rather than
emulated, and the same rows as the SQLAlchemy source."""

from __future__ import annotations

import pytest

from legacy_adapters.base import Condition, Order, Select, TableRef, UnsupportedQuery
from legacy_adapters.odbc import OdbcSource
from legacy_adapters.odbc.catalog import SQL_CHAR
from legacy_adapters.odbc.errors import QueryRejected
from legacy_adapters.sql import SQLAlchemySource

ORDHDR = TableRef("ORDHDR")
NOKEY = TableRef("NOKEY_DUPS")


def _insert(source: OdbcSource) -> str:
    q = source.info.quote
    return f"INSERT INTO {q}NOKEY_DUPS{q} ({q}A{q}, {q}B{q}) VALUES (99, 'written')"


def test_sessions_are_read_only(odbc_url: str) -> None:
    source = OdbcSource(odbc_url, read_only=True)
    try:
        assert source.capabilities.read_only_enforced
        with pytest.raises(QueryRejected):
            source._run(_insert(source), (), None)
    finally:
        source.close()


def test_read_only_is_claimed_only_when_something_enforces_it(odbc_url: str) -> None:
    """No driver tested honours SQL_ATTR_ACCESS_MODE alone: without the profile's
    read-only statement the source does not claim to be read-only."""
    source = OdbcSource(odbc_url, read_only=True, profile={"read_only_sql": []})
    try:
        assert not source.capabilities.read_only_enforced
    finally:
        source.close()


def test_rows_agree_with_the_sqlalchemy_source(
    odbc_source: OdbcSource, sqlalchemy_source: SQLAlchemySource
) -> None:
    columns = ("ORD_NO", "CUST_NO", "STAT", "RUSH_FL")
    odbc_source.reflect(tables=[ORDHDR])
    sqlalchemy_source.reflect(tables=[ORDHDR])
    queries = [
        Select(ORDHDR, columns, (), (Order("ORD_NO"),), limit=25),
        Select(
            ORDHDR,
            columns,
            (Condition("STAT", "in", ("OP", "CL")),),
            (Order("ORD_NO", True),),
            limit=40,
        ),
        Select(ORDHDR, columns, (Condition("ORD_NO", "prefix", "O00000001%"),), (Order("ORD_NO"),)),
    ]
    for query in queries:
        got = odbc_source.select(query)
        assert got, query
        assert got == [tuple(r) for r in sqlalchemy_source.select(query)]
        assert odbc_source.count(query) == sqlalchemy_source.count(query)


def test_char_keys_are_bound_as_char(odbc_source: OdbcSource) -> None:
    odbc_source.reflect(tables=[ORDHDR])
    plan, params = odbc_source.plan(Select(ORDHDR, ("ORD_NO",), (Condition("ORD_NO", "eq", "X"),)))
    assert plan.sizes == ((SQL_CHAR,),)
    assert params == ["X"]


def test_postgresql_reads_a_char_key_through_its_index(backend: str, odbc_url: str) -> None:
    if backend != "postgresql":
        pytest.skip("the CHAR/text index trap is PostgreSQL's")
    source = OdbcSource(
        odbc_url, pool_size=1, profile={"session_sql": ["SET enable_seqscan = off"]}
    )
    try:
        source.reflect(tables=[ORDHDR])
        key = source.select(Select(ORDHDR, ("ORD_NO",), (), (Order("ORD_NO"),), limit=1))[0][0]
        plan, params = source.plan(
            Select(ORDHDR, ("ORD_NO",), (Condition("ORD_NO", "eq", key.rstrip()),))
        )
        lines = [r[0] for r in source._run("EXPLAIN " + plan.sql, params, plan.sizes)]
        assert any("Index" in line for line in lines), lines
        assert not any("Seq Scan" in line for line in lines), lines
    finally:
        source.close()


def test_a_pattern_escape_the_driver_lacks_is_refused(odbc_url: str) -> None:
    source = OdbcSource(odbc_url, profile={"like_escape": False})
    try:
        source.reflect(tables=[ORDHDR])
        assert not source.capabilities.like_escape
        with pytest.raises(UnsupportedQuery, match="escape"):
            source.select(Select(ORDHDR, ("ORD_NO",), (Condition("ORD_NO", "prefix", "O\\_%"),)))
        plain = source.select(
            Select(ORDHDR, ("ORD_NO",), (Condition("ORD_NO", "prefix", "O0000%"),))
        )
        assert plain and all(r[0].startswith("O0000") for r in plain)
    finally:
        source.close()


def test_column_tuples_are_refused_without_row_values(odbc_url: str) -> None:
    source = OdbcSource(odbc_url, profile={"row_values": False})
    try:
        source.reflect(tables=[TableRef("ORDLINE")])
        query = Select(
            TableRef("ORDLINE"), ("ORD_NO",), (Condition(("ORD_NO", "LINE_NO"), "in", [("A", 1)]),)
        )
        with pytest.raises(UnsupportedQuery, match="tuples"):
            source.select(query)
    finally:
        source.close()


@pytest.mark.parametrize("paging", ["row_number", "fetch_first"])
def test_other_paging_forms_walk_the_same_pages(
    odbc_url: str, odbc_source: OdbcSource, paging: str
) -> None:
    """The ROW_NUMBER form runs on all three databases, FETCH FIRST on PostgreSQL:
    keyset pages of a keyless table with duplicates (LIMIT and OFFSET both used)."""
    if paging == "fetch_first" and odbc_source.profile.name != "postgresql":
        pytest.skip("FETCH FIRST: of the databases tested, PostgreSQL reads it")
    source = OdbcSource(odbc_url, profile={"paging": paging})
    try:
        for src in (source, odbc_source):
            src.reflect(tables=[NOKEY])
        order = (Order("A"), Order("B"))
        everything = odbc_source.select(Select(NOKEY, ("A", "B"), (), order))
        first = everything[0]
        query = Select(NOKEY, ("A", "B"), (), order, after=first, skip=1, limit=2)
        assert source.select(query) == odbc_source.select(query)
        assert source.select(Select(NOKEY, ("A", "B"), (), order, limit=3)) == everything[:3]
    finally:
        source.close()
