"""The SQLAlchemy source on real databases: reflection of awkward legacy schemas,
read-only connections, typed bind parameters and failure translation."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from fixtures import awkward
from fixtures.databases import temporary_database
from legacy_adapters.base import Condition, Order, Select, SourceUnavailable, TableRef
from legacy_adapters.sql import SQLAlchemySource
from legacy_adapters.sql.source import FILE_CHECK_SECONDS
from wrapper.app import create_app
from wrapper.config import parse_config
from wrapper.scaffold import scaffold


@pytest.fixture(scope="module")
def source(demo_url: str):
    src = SQLAlchemySource(demo_url)
    yield src
    src.close()


def test_reflects_awkward_names_keys_and_views(source: SQLAlchemySource) -> None:
    schema = source.reflect()
    tables = {t.ref.name: t for t in schema.tables}
    assert {"Work Centre Notes", "order", "MixedCase", "TRIKEY", "NOKEY_DUPS", "V_TRIKEY"} <= set(
        tables
    )
    assert tables["V_TRIKEY"].kind == "view"
    assert tables["TRIKEY"].kind == "table"
    assert tables["TRIKEY"].primary_key == ("PLANT", "LINE", "SEQ")
    assert tables["NOKEY_DUPS"].primary_key == ()
    assert tables["Work Centre Notes"].primary_key == ("Centre ID",)
    assert [c.name for c in tables["order"].columns] == ["select", "group", "from"]
    assert tables["MixedCase"].column("CamelValue") is not None
    ordline = tables["ORDLINE"]
    assert ordline.primary_key == ("ORD_NO", "LINE_NO")
    jobs = tables["JOBSCHED"]
    assert ("WRK_CTR", "STAT", "DUE_DT") in [ix.columns for ix in jobs.indexes]
    stat = jobs.column("STAT")
    assert stat is not None and stat.fixed_length and stat.length == 2


def test_serve_time_reflection_reads_only_the_mapped_tables(source: SQLAlchemySource) -> None:
    schema = source.reflect(tables=[TableRef("JOBSCHED"), TableRef("NO_SUCH")])
    assert [t.ref.name for t in schema.tables] == ["JOBSCHED"]


def test_init_mapping_serves_every_awkward_table(
    demo_url: str, source: SQLAlchemySource, legacy: sa.Engine
) -> None:
    text = scaffold(source.reflect(), demo_url)
    app = create_app(parse_config(text, filename="init.yaml"), no_auth=True)
    client = app.test_client()
    try:
        resources = app.extensions["legacy_wrapper"].mapping.versions["v1"].resources
        assert {
            "work_centre_notes",
            "order",
            "mixed_case",
            "trikey",
            "nokey_dups",
            "v_trikey",
            "ctrlcols",
        } <= set(resources)
        ctrl = client.get("/v1/ctrlcols?id=3&sort=-id").get_json()
        assert ctrl["data"][0] == {
            "id": 3,
            "limit_": 3,
            "sort_": 7,
            "fields_": 6,
            "cursor_": 0,
            "expand_": 0,
        }
        note = client.get("/v1/work_centre_notes/WC03").get_json()
        assert note["note_text"].startswith("CNC bay A")
        assert client.get("/v1/order/2").get_json() == {
            "select": 2,
            "group": "GROUP B",
            "from": 200,
        }
        assert client.get("/v1/mixed_case/4").get_json()["camel_value"] == "Value4"
        assert client.get("/v1/trikey/P2,L3,5").get_json()["qty"] == 55
        assert client.get("/v1/trikey/P2,L3").status_code == 400
        assert len(walk(client, "/v1/v_trikey?limit=4")) == 30
        rows = walk(client, "/v1/nokey_dups?limit=2")
        with legacy.connect() as conn:
            table = sa.Table("NOKEY_DUPS", sa.MetaData(), autoload_with=conn)
            truth = Counter(tuple(r) for r in conn.execute(sa.select(table)))
        assert Counter((r["a"], r["b"]) for r in rows) == truth
        assert client.get("/v1/nokey_dups/1").status_code == 404
    finally:
        app.extensions["legacy_wrapper"].close()


def walk(client: FlaskClient, url: str) -> list[dict]:
    rows, page = [], client.get(url).get_json()
    rows += page["data"]
    while page["next_cursor"]:
        page = client.get(f"{url}&cursor={page['next_cursor']}").get_json()
        rows += page["data"]
    return rows


def test_schemas_and_libraries(backend: str, demo_url: str) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite has no schemas")
    schema_name = f"lw_lib_{secrets.token_hex(3)}"
    awkward.build(demo_url, schema=schema_name)
    src = SQLAlchemySource(demo_url)
    try:
        schema = src.reflect(schemas=[schema_name])
        assert {t.ref.schema for t in schema.tables} == {schema_name}
        text = scaffold(schema, demo_url)
        assert f"schema: {schema_name}" in text
        app = create_app(parse_config(text), no_auth=True)
        assert app.test_client().get("/v1/trikey/P1,L1,1").get_json()["qty"] == 10
        app.extensions["legacy_wrapper"].close()
    finally:
        src.close()
        engine = sa.create_engine(demo_url)
        with engine.begin() as conn:
            quoted = conn.dialect.identifier_preparer.quote_schema(schema_name)
            if backend == "postgresql":
                conn.exec_driver_sql(f"DROP SCHEMA {quoted} CASCADE")
            else:
                conn.exec_driver_sql(f"DROP DATABASE {quoted}")
        engine.dispose()


def test_connections_are_read_only(source: SQLAlchemySource) -> None:
    source.reflect(tables=[TableRef("CODETBL")])
    with pytest.raises(sa.exc.DBAPIError), source.engine.begin() as conn:
        conn.exec_driver_sql(
            "DELETE FROM CODETBL" if source.dialect == "mysql" else 'DELETE FROM "CODETBL"'
        )


def explain(source: SQLAlchemySource, stmt: sa.Select, params: dict | None = None) -> str:
    """The plan of a statement exactly as the source runs it (parameters bound, not inlined)."""
    compiled = stmt.params(params or {}).compile(
        dialect=source.engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    with source.engine.connect() as conn:
        conn.exec_driver_sql("SET enable_seqscan = off")
        lines = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars().all()
    return "\n".join(lines)


def test_postgresql_uses_the_legacy_indexes(backend: str, source: SQLAlchemySource) -> None:
    """CHAR keys are bound as their own type: compared with a text parameter they
    would force a full scan whatever the planner settings."""
    if backend != "postgresql":
        pytest.skip("EXPLAIN check for PostgreSQL's CHAR/text trap")
    source.reflect(tables=[TableRef("ORDHDR"), TableRef("JOBSCHED")])
    orders = TableRef("ORDHDR")
    by_key = Select(orders, ("ORD_NO", "STAT"), (Condition("ORD_NO", "eq", "O000000001"),), limit=2)
    by_customer = Select(
        orders,
        ("ORD_NO",),
        (Condition("CUST_NO", "eq", "C0001005"),),
        (Order("ORD_DT"), Order("ORD_NO")),
        limit=51,
    )
    dashboard = Select(
        TableRef("JOBSCHED"),
        ("JOB_NO",),
        (Condition("WRK_CTR", "eq", "WC03"), Condition("STAT", "eq", "RN")),
        (Order("DUE_DT"), Order("JOB_NO")),
        limit=51,
    )
    deep = Select(orders, ("ORD_NO",), (), (Order("ORD_NO"),), after=("O000000200",), limit=51)
    for query in (by_key, by_customer, dashboard, deep):
        plan = explain(source, *source.build(query))
        assert "Index Cond" in plan and "Seq Scan" not in plan, plan
    table = source._table(orders)  # the trap itself, to show the check can fail
    trap = sa.select(table.c.ORD_NO).where(
        sa.cast(table.c.ORD_NO, sa.Text) == sa.cast("O000000001", sa.Text)
    )
    assert "Index Cond" not in explain(source, trap)


def test_unreachable_database_answers_503(backend: str, tmp_path: Path) -> None:
    with temporary_database(backend, tmp_path) as url:
        awkward.build(url)
        app = create_app(
            parse_config(
                f'source: {{url: "{url}", pool_timeout: 1}}\nversions:\n  v1:\n    resources:\n'
                "      trikey: {table: TRIKEY, fields: {plant: PLANT, line: LINE, seq: SEQ}}\n"
            ),
            no_auth=True,
        )
        client = app.test_client()
        assert client.get("/v1/trikey").status_code == 200
    # The database is gone now (dropped, or its file deleted).
    app.extensions["legacy_wrapper"].source.inner.engine.dispose()
    time.sleep(FILE_CHECK_SECONDS)  # how often reads look at a SQLite file
    for url in ("/v1/trikey", "/v1/trikey/P1,L1,1", "/readyz"):
        response = client.get(url)
        assert response.status_code == 503, url
        assert response.headers["Retry-After"]
        assert response.mimetype == "application/problem+json"
        assert "legacy" in response.get_json()["detail"]
    with pytest.raises(SourceUnavailable):
        app.extensions["legacy_wrapper"].source.ping()


def test_sources_meet_the_contract(source: SQLAlchemySource) -> None:
    from legacy_adapters.base import Source
    from legacy_adapters.bulkhead import Bulkhead

    assert isinstance(source, Source)
    assert isinstance(Bulkhead(source, 1, 1.0), Source)
