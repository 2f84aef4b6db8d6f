"""Reflection through the ODBC catalog functions finds what SQLAlchemy's
reflection finds on the same database: names, types, keys, indexes, views."""

from __future__ import annotations

import secrets

import pytest
import sqlalchemy as sa

from fixtures import awkward
from legacy_adapters.base import Condition, Order, Select, TableInfo, TableRef
from legacy_adapters.odbc import OdbcSource
from legacy_adapters.sql import SQLAlchemySource


def _columns(table: TableInfo) -> list[tuple]:
    """Names, types and lengths; nullability for tables (a view column's nullability
    is the DBMS's guess, and MariaDB's catalog and SQLAlchemy guess differently)."""
    return [
        (
            c.name,
            c.python_type,
            c.nullable if table.kind == "table" else None,
            c.fixed_length,
            c.length if c.fixed_length else None,
        )
        for c in table.columns
    ]


def test_whole_schema_matches_sqlalchemy_reflection(
    odbc_source: OdbcSource, sqlalchemy_source: SQLAlchemySource
) -> None:
    got = {t.ref: t for t in odbc_source.reflect().tables}
    want = {t.ref: t for t in sqlalchemy_source.reflect().tables}
    assert set(got) == set(want)
    for ref, expected in want.items():
        table = got[ref]
        assert table.kind == expected.kind, ref
        assert _columns(table) == _columns(expected), ref
        assert table.primary_key == expected.primary_key, ref
        assert {ix.columns for ix in table.indexes} >= {ix.columns for ix in expected.indexes}, ref
        assert {(f.columns, f.referred_table, f.referred_columns) for f in table.foreign_keys} == {
            (f.columns, f.referred_table, f.referred_columns) for f in expected.foreign_keys
        }, ref


def test_one_table_reflects_as_in_the_whole_schema(odbc_source: OdbcSource) -> None:
    whole = {t.ref: t for t in odbc_source.reflect().tables}
    for name in ("TRIKEY", "Work Centre Notes", "V_TRIKEY", "JOBSCHED"):
        ref = TableRef(name)
        assert odbc_source.reflect(tables=[ref]).tables == (whole[ref],)


def test_awkward_names_are_quoted(odbc_source: OdbcSource) -> None:
    odbc_source.reflect(tables=[TableRef("order"), TableRef("Work Centre Notes")])
    rows = odbc_source.select(
        Select(
            TableRef("order"),
            ("select", "group", "from"),
            (Condition("select", "gte", 1),),
            (Order("select"),),
        )
    )
    assert rows and all(r[0] >= 1 for r in rows)
    notes = odbc_source.select(Select(TableRef("Work Centre Notes"), ("Centre ID", "Note Text")))
    assert notes


def test_names_with_underscores_are_not_patterns(odbc_source: OdbcSource) -> None:
    """Catalog functions take search patterns; `JOB_SCHED`-like names must match exactly."""
    tables = odbc_source.reflect().tables
    for table in tables:
        again = odbc_source.reflect(tables=[table.ref]).tables
        assert [t.ref for t in again] == [table.ref]
        assert [c.name for c in again[0].columns] == [c.name for c in table.columns]


def test_schemas_and_libraries(odbc_source: OdbcSource, demo_url: str, odbc_url: str) -> None:
    """A schema (PostgreSQL) or a database (MariaDB, where ODBC calls it a catalog)
    other than the default one is reflected and read with qualified names."""
    if not odbc_source.capabilities.schemas:
        pytest.skip("this source has no schemas")
    name = f"lw_lib_{secrets.token_hex(3)}"
    awkward.build(demo_url, schema=name)
    source = OdbcSource(odbc_url)
    try:
        schema = source.reflect(schemas=[name])
        tables = {t.ref.name: t for t in schema.tables}
        assert {t.ref.schema for t in schema.tables} == {name}
        assert {"TRIKEY", "V_TRIKEY", "order"} <= set(tables)
        assert tables["TRIKEY"].primary_key == ("PLANT", "LINE", "SEQ")
        rows = source.select(
            Select(TableRef("TRIKEY", name), ("QTY",), (Condition("PLANT", "eq", "P1"),))
        )
        assert rows and all(isinstance(r[0], int) for r in rows)
        default = {t.ref for t in source.reflect().tables}
        assert TableRef("TRIKEY") in default and TableRef("TRIKEY", name) not in default
    finally:
        source.close()
        engine = sa.create_engine(demo_url)
        with engine.begin() as conn:
            quoted = conn.dialect.identifier_preparer.quote_schema(name)
            kind = "SCHEMA" if engine.dialect.name == "postgresql" else "DATABASE"
            conn.exec_driver_sql(f"DROP {kind} {quoted}" + (" CASCADE" if kind == "SCHEMA" else ""))
        engine.dispose()
