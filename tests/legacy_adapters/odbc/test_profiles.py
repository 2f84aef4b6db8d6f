"""Profiles: chosen from the driver's DBMS name, overridable by configuration,
and compiled into the paging form each DBMS reads."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from legacy_adapters.base import Condition, Order, Select, TableRef, UnsupportedQuery
from legacy_adapters.odbc.dialect import OdbcDialect, paginator
from legacy_adapters.odbc.plans import compile_plan
from legacy_adapters.odbc.profiles import GENERIC, PROFILES, ProfileError, detect, resolve
from legacy_adapters.sql.statements import build_statement, statement_values

metadata = sa.MetaData()
ITEMS = sa.Table(
    "ITEMS",
    metadata,
    sa.Column("ID", sa.CHAR(6), primary_key=True),
    sa.Column("NAME", sa.String(40)),
    sa.Column("QTY", sa.Integer),
)
PAGE = Select(TableRef("ITEMS"), ("ID", "NAME"), (), (Order("ID"),), limit=10)
SKIPPING = Select(TableRef("ITEMS"), ("ID",), (), (Order("ID"),), after=("I1",), skip=2, limit=10)


def compiled(profile_name: str, query: Select, quote: str = '"') -> tuple[str, list]:
    profile = PROFILES[profile_name]
    dialect = OdbcDialect(profile, quote=quote, like_escape=True)
    stmt = build_statement(ITEMS, query, lambda ref: ITEMS, paginator(profile))
    values = statement_values(query)
    plan = compile_plan(stmt, dialect, values)
    return " ".join(plan.sql.split()), plan.parameters(values)


@pytest.mark.parametrize(
    ("dbms_name", "profile"),
    [
        ("SQLite", "sqlite"),
        ("PostgreSQL", "postgresql"),
        ("MariaDB", "mariadb"),
        ("Microsoft SQL Server", "mssql"),
        ("DB2/LINUXX8664", "db2"),
        ("DB2/400 SQL", "db2i"),
        ("Oracle", "oracle"),
        ("IBM Informix Dynamic Server", "informix"),
        ("OpenEdge", "openedge"),
        ("Pervasive.SQL", "zen"),
        ("Visual FoxPro", "foxpro"),
        ("Some Unknown DBMS", "generic"),
    ],
)
def test_profile_from_the_dbms_name(dbms_name: str, profile: str) -> None:
    assert detect(dbms_name).name == profile


def test_configuration_names_or_overrides_a_profile() -> None:
    assert resolve("PostgreSQL", "db2").name == "db2"
    tuned = resolve("PostgreSQL", {"paging": "row_number", "session_sql": "SET x = 1"})
    assert (tuned.name, tuned.paging, tuned.session_sql) == (
        "postgresql",
        "row_number",
        ("SET x = 1",),
    )
    assert resolve("Whatever", {"base": "oracle"}).paging == "rownum"
    assert resolve("Whatever", None) is GENERIC
    assert resolve("Whatever", {"nulls": "greatest"}).nulls == "greatest"


def test_the_tested_profiles_keep_their_databases_null_order() -> None:
    """So that an index serves a sort on a nullable column (see keyset)."""
    assert {n: p.nulls for n, p in PROFILES.items() if p.tested} == {
        "sqlite": "least",
        "postgresql": "greatest",
        "mariadb": "least",
    }
    assert GENERIC.nulls == "explicit"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("nosuch", "unknown ODBC profile 'nosuch'"),
        ({"pagination": "top"}, "unknown ODBC profile setting 'pagination'"),
        ({"paging": "skip_first"}, "profile paging 'skip_first' is not one of"),
        ({"nulls": "last"}, "profile nulls 'last' is not one of"),
    ],
)
def test_a_wrong_override_names_what_is_wrong(override: object, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        resolve("PostgreSQL", override)  # type: ignore[arg-type]


def test_limit_offset() -> None:
    sql, params = compiled("postgresql", SKIPPING)
    assert sql.endswith('ORDER BY "ITEMS"."ID" ASC LIMIT ? OFFSET ?')
    assert params[-2:] == [10, 2]


def test_mariadb_quotes_with_backticks_and_doubles_the_escape_backslash() -> None:
    query = Select(TableRef("ITEMS"), ("ID",), (Condition("NAME", "like", "a\\%"),))
    sql, params = compiled("mariadb", query, quote="`")
    assert "lower(`ITEMS`.`NAME`) LIKE lower(?) ESCAPE '\\\\'" in sql
    assert params == ["a\\%"]


def test_fetch_first() -> None:
    sql, params = compiled("db2", SKIPPING)
    assert sql.endswith("OFFSET ? ROWS FETCH FIRST ? ROWS ONLY")
    assert params[-2:] == [2, 10]


def test_top_writes_the_page_size_and_numbers_rows_to_skip() -> None:
    sql, params = compiled("mssql", PAGE)
    assert sql.startswith('SELECT TOP 10 "ITEMS"."ID"')
    assert params == []
    sql, params = compiled("mssql", SKIPPING)
    assert "row_number() OVER (ORDER BY" in sql
    assert sql.endswith(
        'WHERE "lw_page"."lw_rn" > ? AND "lw_page"."lw_rn" - ? <= ? ORDER BY "lw_page"."lw_rn"'
    )
    assert params[-3:] == [2, 2, 10]


def test_rownum_wraps_the_ordered_query_without_as() -> None:
    sql, params = compiled("oracle", PAGE)
    assert sql.endswith('ORDER BY "ITEMS"."ID" ASC) "lw_page" WHERE ROWNUM <= ?')
    assert params == [10]


def test_without_window_functions_a_skipping_page_is_refused() -> None:
    with pytest.raises(UnsupportedQuery, match="ROW_NUMBER"):
        compiled("foxpro", SKIPPING)
