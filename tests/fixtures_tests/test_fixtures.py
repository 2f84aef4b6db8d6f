"""The demo, awkward and wide-catalogue databases build alike on every backend."""

from __future__ import annotations

import pathlib
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from fixtures import awkward, wide_catalog
from fixtures.databases import BACKENDS, backend_available, temporary_database
from wrapper.demo import plant

DEMO_ORDERS = 300
SERVER_BACKENDS = tuple(b for b in BACKENDS if b != "sqlite")


def _require(backend: str) -> None:
    reason = backend_available(backend)
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    _require(request.param)
    return request.param


@pytest.fixture
def db_url(backend: str, tmp_path: pathlib.Path) -> Iterator[str]:
    with temporary_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def demo(db_url: str) -> dict[str, int]:
    return plant.build(db_url, orders=DEMO_ORDERS)


def _count(conn: sa.Connection, table: sa.Table | sa.TableClause) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def _normalised(value: Any) -> Any:
    return value.rstrip(" ") if isinstance(value, str) else value


def _contents(url: str, table: sa.Table) -> list[tuple[Any, ...]]:
    """All rows of ``table``, CHAR padding removed, in a backend-independent order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(table)).all()
    finally:
        engine.dispose()
    return sorted((tuple(_normalised(v) for v in row) for row in rows), key=repr)


# --- legacy demo ---------------------------------------------------------------------------


def test_demo_counts_match_tables(demo: dict[str, int], engine: sa.Engine) -> None:
    assert list(demo) == ["CUSTMAST", "ORDHDR", "ORDLINE", "JOBSCHED", "CODETBL", "ACTLOG"]
    assert demo["ORDHDR"] == DEMO_ORDERS
    assert demo["CUSTMAST"] == 30
    assert DEMO_ORDERS * 3 < demo["ORDLINE"] < DEMO_ORDERS * 7
    assert DEMO_ORDERS * 1.2 < demo["JOBSCHED"] < DEMO_ORDERS * 1.8
    assert DEMO_ORDERS * 2 < demo["ACTLOG"] < DEMO_ORDERS * 4
    with engine.connect() as conn:
        for name, expected in demo.items():
            assert _count(conn, plant.metadata.tables[name]) == expected, name


def test_demo_schema_is_reflected(demo: dict[str, int], engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    assert set(demo) <= set(inspector.get_table_names())
    assert plant.OPEN_ORDERS_VIEW in inspector.get_view_names()
    assert inspector.get_pk_constraint("ORDLINE")["constrained_columns"] == ["ORD_NO", "LINE_NO"]
    assert inspector.get_pk_constraint("ACTLOG")["constrained_columns"] == []
    assert not [ix for ix in inspector.get_indexes("ACTLOG") if ix["unique"]]
    index_columns = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("JOBSCHED")}
    assert index_columns["IX_JOB_WC"] == ["WRK_CTR", "STAT", "DUE_DT"]
    assert {"IX_JOB_DUE", "IX_JOB_ORD"} <= set(index_columns)
    assert {ix["name"] for ix in inspector.get_indexes("ORDHDR")} >= {
        "IX_ORD_CUST",
        "IX_ORD_DT",
        "IX_ORD_STAT",
    }


def test_order_totals_equal_sum_of_lines(demo: dict[str, int], engine: sa.Engine) -> None:
    hdr, line = plant.ORDHDR, plant.ORDLINE
    sums = (
        sa.select(line.c.ORD_NO, sa.func.sum(line.c.QTY * line.c.UNIT_PRC).label("amount"))
        .group_by(line.c.ORD_NO)
        .subquery()
    )
    mismatched = (
        sa.select(hdr.c.ORD_NO)
        .select_from(hdr.outerjoin(sums, sums.c.ORD_NO == hdr.c.ORD_NO))
        .where(sa.func.coalesce(sums.c.amount, -1) != hdr.c.TOT_AMT)
    )
    with engine.connect() as conn:
        assert conn.execute(mismatched).all() == []


def test_actlog_has_exact_duplicate_rows(demo: dict[str, int], engine: sa.Engine) -> None:
    log = plant.ACTLOG
    copies = sa.func.count().label("copies")
    duplicated = sa.select(*log.c, copies).group_by(*log.c).having(sa.func.count() > 1)
    with engine.connect() as conn:
        rows = conn.execute(duplicated).all()
    assert len(rows) > 10
    assert {row.copies for row in rows} == {2, 3}


def test_references_and_codes_are_consistent(demo: dict[str, int], engine: sa.Engine) -> None:
    hdr, line, job = plant.ORDHDR, plant.ORDLINE, plant.JOBSCHED
    cust, codes = plant.CUSTMAST, plant.CODETBL
    with engine.connect() as conn:
        for child, parent in (
            (job.c.ORD_NO, hdr.c.ORD_NO),
            (line.c.ORD_NO, hdr.c.ORD_NO),
            (hdr.c.CUST_NO, cust.c.CUST_NO),
        ):
            orphans = sa.select(child).where(child.not_in(sa.select(parent)))
            assert conn.execute(orphans).all() == [], child
        code_rows = conn.execute(sa.select(codes.c.TBL_ID, codes.c.CODE)).all()
        known = {(t.rstrip(), c.rstrip()) for t, c in code_rows}
        order_stats = {s for (s,) in conn.execute(sa.select(hdr.c.STAT).distinct())}
        job_stats = {s for (s,) in conn.execute(sa.select(job.c.STAT).distinct())}
        open_orders = _count(conn, hdr.select().where(hdr.c.STAT == "OP").subquery())
        in_view = _count(conn, sa.table(plant.OPEN_ORDERS_VIEW))
    assert {("OSTS", s) for s in order_stats} <= known
    assert {("JSTS", s) for s in job_stats} <= known
    assert {"OP", "CL"} <= order_stats
    assert "RN" in job_stats
    assert 0 < open_orders == in_view


def test_char_columns_are_space_padded(
    backend: str, demo: dict[str, int], engine: sa.Engine
) -> None:
    cust = plant.CUSTMAST
    with engine.connect() as conn:
        names = conn.execute(sa.select(cust.c.CUST_NM)).scalars().all()
        notes = conn.execute(sa.select(cust.c.NOTE_TX).where(cust.c.NOTE_TX.is_not(None)))
        notes = [note.decode("cp1252") for note in notes.scalars()]
    if backend == "mariadb":  # MariaDB strips CHAR padding on read
        assert all(len(name) <= 30 and name == name.rstrip() for name in names)
    else:
        assert {len(name) for name in names} == {30}
    assert notes
    assert all(isinstance(note, str) for note in notes)


def test_demo_is_deterministic_on_sqlite(tmp_path: pathlib.Path) -> None:
    with (
        temporary_database("sqlite", tmp_path) as first,
        temporary_database("sqlite", tmp_path) as second,
        temporary_database("sqlite", tmp_path) as other_seed,
    ):
        assert plant.build(first, orders=DEMO_ORDERS) == plant.build(second, orders=DEMO_ORDERS)
        plant.build(other_seed, orders=DEMO_ORDERS, seed=2)
        for table in (plant.ORDHDR, plant.ORDLINE):
            assert _contents(first, table) == _contents(second, table)
            assert _contents(first, table) != _contents(other_seed, table)


@pytest.mark.parametrize("server", SERVER_BACKENDS)
def test_demo_has_same_contents_as_on_sqlite(server: str, tmp_path: pathlib.Path) -> None:
    _require(server)
    with (
        temporary_database("sqlite", tmp_path) as reference,
        temporary_database(server, tmp_path) as url,
    ):
        assert plant.build(reference, orders=DEMO_ORDERS) == plant.build(url, orders=DEMO_ORDERS)
        for table in plant.TABLES:
            assert _contents(url, table) == _contents(reference, table), table.name


# --- awkward schema --------------------------------------------------------------------------


def _check_awkward(engine: sa.Engine, schema: str | None) -> None:
    inspector = sa.inspect(engine)
    assert set(awkward.TABLE_NAMES) <= set(inspector.get_table_names(schema=schema))
    assert awkward.VIEW_NAME in inspector.get_view_names(schema=schema)
    pk = inspector.get_pk_constraint("TRIKEY", schema=schema)
    assert pk["constrained_columns"] == ["PLANT", "LINE", "SEQ"]
    assert inspector.get_pk_constraint("NOKEY_DUPS", schema=schema)["constrained_columns"] == []
    assert inspector.get_indexes("NOKEY_DUPS", schema=schema) == []

    def columns(table: str) -> list[str]:
        return [c["name"] for c in inspector.get_columns(table, schema=schema)]

    assert columns("Work Centre Notes") == ["Centre ID", "Note Text"]
    assert columns("order") == ["select", "group", "from"]
    assert columns("MixedCase") == ["MixedId", "CamelValue"]
    assert columns("CTRLCOLS") == ["ID", "limit", "sort", "fields", "cursor", "expand"]
    assert columns(awkward.VIEW_NAME) == ["PLANT", "LINE", "SEQ", "QTY"]

    metadata = sa.MetaData(schema=schema)
    nokey = sa.Table("NOKEY_DUPS", metadata, autoload_with=engine)
    with engine.connect() as conn:
        assert _count(conn, sa.Table("TRIKEY", metadata, autoload_with=engine)) == 30
        assert _count(conn, sa.Table(awkward.VIEW_NAME, metadata, autoload_with=engine)) == 30
        rows = conn.execute(sa.select(nokey)).all()
        order = sa.Table("order", metadata, autoload_with=engine)
        assert conn.execute(sa.select(order.c.group).where(order.c.select == 2)).scalar_one()
    assert len(rows) == 25
    assert len(set(rows)) < len(rows)
    assert sum(1 for row in rows if row.B is None) == 1


def test_awkward_build_is_reflected(db_url: str, engine: sa.Engine) -> None:
    awkward.build(db_url)
    awkward.build(db_url)  # building again replaces the objects
    _check_awkward(engine, None)


@pytest.mark.parametrize("server", SERVER_BACKENDS)
def test_awkward_build_in_a_named_schema(server: str, tmp_path: pathlib.Path) -> None:
    _require(server)
    schema = f"Legacy Plant {secrets.token_hex(3)}"
    with temporary_database(server, tmp_path) as url:
        engine = sa.create_engine(url)
        try:
            awkward.build(url, schema=schema)
            _check_awkward(engine, schema)
            assert not set(awkward.TABLE_NAMES) & set(sa.inspect(engine).get_table_names())
        finally:
            if server == "mariadb":
                with engine.begin() as conn:
                    quoted = conn.dialect.identifier_preparer.quote_schema(schema)
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
            engine.dispose()


def test_awkward_rejects_a_schema_on_sqlite(tmp_path: pathlib.Path) -> None:
    with temporary_database("sqlite", tmp_path) as url, pytest.raises(ValueError):
        awkward.build(url, schema="other")


# --- wide catalogue --------------------------------------------------------------------------


def test_wide_catalogue_builds(db_url: str, engine: sa.Engine) -> None:
    wide_catalog.build(db_url, tables=60)
    inspector = sa.inspect(engine)
    names = sorted(inspector.get_table_names())
    assert len(names) == 60
    assert all(re.fullmatch(r"T\d{4}_[A-Z]{4}", name) for name in names)
    keyless = [n for n in names if not inspector.get_pk_constraint(n)["constrained_columns"]]
    assert 0 < len(keyless) < 20
    widths = [len(inspector.get_columns(name)) for name in names]
    assert min(widths) >= 5 and max(widths) <= 30
    with engine.connect() as conn:
        assert _count(conn, sa.table(names[0])) > 0


def test_wide_catalogue_is_deterministic() -> None:
    def shape(seed: int) -> list[tuple[str, list[str]]]:
        tables = wide_catalog.define(sa.MetaData(), tables=30, seed=seed)
        return [(t.name, [f"{c.name} {c.type}" for c in t.columns]) for t in tables]

    assert shape(7) == shape(7)
    assert shape(7) != shape(8)
