"""Reflection tells the truth about a schema: what each column is (enums with
their labels, domains as their base type, types SQLAlchemy does not know under
their own name), which objects there are (materialized views, a partitioned
table once), what identifies a row (UNIQUE constraints) and where a foreign key
points (into its own schema, no phantom table)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures import types_zoo
from fixtures.databases import temporary_database
from legacy_adapters.base import Schema, Select, TableRef
from legacy_adapters.sql import SQLAlchemySource

from ..conftest import require_backend

SCHEMAS = ("public", "person", "sales")


@pytest.fixture(scope="module")
def pg_zoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_backend("postgresql")
    with temporary_database("postgresql", tmp_path_factory.mktemp("pg-zoo")) as url:
        types_zoo.build(url)
        yield url


def _reflect(url: str, schemas: tuple[str | None, ...] = (None,)) -> Schema:
    source = SQLAlchemySource(url)
    try:
        return source.reflect(schemas=list(schemas))
    finally:
        source.close()


def test_enums_domains_and_unknown_types_are_what_the_database_says(pg_zoo: str) -> None:
    schema = _reflect(pg_zoo)
    scalars = schema.table(TableRef("scalars"))
    status = scalars.column("state")
    assert (status.family, status.type) == ("ENUM", "job_state")
    assert status.labels == ("queued", "running", "held", "done")  # the type's own order
    amount = scalars.column("amount")  # a domain over numeric(12,2)
    assert (amount.family, amount.python_type) == ("NUMERIC", "decimal")
    documents = schema.table(TableRef("documents"))
    assert documents.column("body").family == "XML"
    assert documents.column("location").family == "POINT"
    temporal = schema.table(TableRef("temporal"))
    assert temporal.column("tstz").family == "TIMESTAMP WITH TIME ZONE"
    assert temporal.column("ts").family == "TIMESTAMP WITHOUT TIME ZONE"
    assert schema.to_dict()["tables"][0]["columns"][0].get("family")


def test_materialized_views_are_listed_and_served_read_only(pg_zoo: str) -> None:
    summary = _reflect(pg_zoo).table(TableRef("job_summary"))
    assert summary is not None and summary.kind == "view"
    source = SQLAlchemySource(pg_zoo)
    try:  # serve time: only what the mapping names is reflected, and it is found
        (table,) = source.reflect(tables=[TableRef("job_summary")]).tables

        rows = source.select(Select(table.ref, ("work_center", "jobs"), limit=5))
        assert rows
    finally:
        source.close()


def test_a_partitioned_table_is_listed_once_as_its_parent(pg_zoo: str) -> None:
    names = {t.ref.name for t in _reflect(pg_zoo).tables}
    assert "readings" in names
    assert not names & {"readings_2025", "readings_2026"}


def test_foreign_keys_point_into_their_own_schema_without_phantoms(pg_zoo: str) -> None:
    sales = _reflect(pg_zoo, ("sales",))
    assert [str(t.ref) for t in sales.tables] == ["sales.customer"]
    (fk,) = sales.tables[0].foreign_keys
    assert (fk.referred_schema, fk.referred_table) == ("person", "address")
    everything = _reflect(pg_zoo, SCHEMAS)
    assert everything.table(TableRef("address", "person")) is not None
    assert everything.table(TableRef("address", "sales")) is None
    assert everything.table(TableRef("address", "public")) is None


def test_a_unique_constraint_identifies_rows_where_there_is_no_primary_key(
    backend: str, tmp_path: Path
) -> None:
    require_backend(backend)
    with temporary_database(backend, tmp_path) as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE tokens (token VARCHAR(20) NOT NULL, label VARCHAR(20), "
                "CONSTRAINT uq_tokens_token UNIQUE (token))"
            )
        engine.dispose()
        table = _reflect(url).table(TableRef("tokens"))
    assert table.primary_key == ()
    assert ("token",) in table.unique_keys()
