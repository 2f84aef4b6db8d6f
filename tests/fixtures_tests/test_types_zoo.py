"""The type zoo holds on each backend the types and awkward values it promises."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from fixtures import types_zoo
from fixtures.databases import BACKENDS, backend_available, temporary_database
from fixtures.types_zoo import common, mariadb, postgresql, sqlite

COMMON_COUNTS = {
    "work_centers": 12,
    "jobs": 300,
    "orders": 120,
    "adressen": 60,
    "char_keys": 120,
}
OWN_TABLES = {
    "postgresql": {
        "temporal": 240,
        "temporal_edges": len(postgresql.TEMPORAL_EDGES),
        "scalars": 240,
        "documents": 240,
        "unique_only": 80,
        "readings": 240,
        "person.address": 60,
        "sales.customer": 80,
    },
    "mariadb": {"temporal": 240, "scalars": 240, "case_keys": 150},
    "sqlite": {"temporal": 240, "scalars": 240, "codes": 40},
}


class _Zoos:
    """One zoo per backend for the whole module, built when first asked for."""

    def __init__(self, stack: ExitStack, tmp: pytest.TempPathFactory) -> None:
        self._stack = stack
        self._tmp = tmp
        self._built: dict[str, tuple[sa.Engine, dict[str, int]]] = {}

    def get(self, backend: str) -> tuple[sa.Engine, dict[str, int]]:
        if backend not in self._built:
            reason = backend_available(backend)
            if reason is not None:
                pytest.skip(reason)
            url = self._stack.enter_context(temporary_database(backend, self._tmp.mktemp(backend)))
            counts = types_zoo.build(url)
            engine = sa.create_engine(url)
            self._stack.callback(engine.dispose)
            self._built[backend] = (engine, counts)
        return self._built[backend]


@pytest.fixture(scope="module")
def zoos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Zoos]:
    with ExitStack() as stack:
        yield _Zoos(stack, tmp_path_factory)


@pytest.fixture(params=BACKENDS)
def zoo(request: pytest.FixtureRequest, zoos: _Zoos) -> tuple[str, sa.Engine, dict[str, int]]:
    return (request.param, *zoos.get(request.param))


_AS_WRITTEN = {"no_parameters": True}  # a `%` in the SQL is a `%`


def _rows(engine: sa.Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(sql, execution_options=_AS_WRITTEN)]


def _one(engine: sa.Engine, sql: str) -> Any:
    with engine.connect() as conn:
        return conn.exec_driver_sql(sql, execution_options=_AS_WRITTEN).scalar_one()


def _quoted(engine: sa.Engine, name: str) -> str:
    quote = engine.dialect.identifier_preparer.quote
    return ".".join(quote(part) for part in name.split("."))


# --- every backend -------------------------------------------------------------------------


def test_counts_are_the_rows_in_each_table(zoo: tuple[str, sa.Engine, dict[str, int]]) -> None:
    backend, engine, counts = zoo
    expected_tables = set(common.common_rows()) | set(OWN_TABLES[backend])
    assert set(counts) == expected_tables
    for name, rows in (COMMON_COUNTS | OWN_TABLES[backend]).items():
        assert counts[name] == rows, name
    for name, rows in counts.items():
        assert _one(engine, f"SELECT COUNT(*) FROM {_quoted(engine, name)}") == rows, name
    assert 350 < counts["order_lines"] < 720
    assert counts["shipments"] < counts["order_lines"]


def test_dashboard_shape_and_composite_foreign_key(
    zoo: tuple[str, sa.Engine, dict[str, int]],
) -> None:
    _, engine, _ = zoo
    inspector = sa.inspect(engine)
    jobs_indexes = [ix["column_names"] for ix in inspector.get_indexes("jobs")]
    assert ["work_center", "due_date"] in jobs_indexes
    assert [fk["referred_table"] for fk in inspector.get_foreign_keys("jobs")] == ["work_centers"]
    (shipment_fk,) = inspector.get_foreign_keys("shipments")
    assert shipment_fk["referred_table"] == "order_lines"
    assert shipment_fk["constrained_columns"] == ["order_no", "line_no"]
    assert shipment_fk["referred_columns"] == ["order_no", "line_no"]
    assert inspector.get_pk_constraint("order_lines")["constrained_columns"] == [
        "order_no",
        "line_no",
    ]
    null_due = _one(engine, "SELECT COUNT(*) FROM jobs WHERE due_date IS NULL")
    assert null_due == 30
    open_jobs = _one(engine, "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
    assert 0 < open_jobs == _one(engine, "SELECT COUNT(*) FROM open_jobs")
    assert "open_jobs" in inspector.get_view_names()


def test_keyless_log_has_exact_duplicates_with_nulls(
    zoo: tuple[str, sa.Engine, dict[str, int]],
) -> None:
    _, engine, counts = zoo
    assert sa.inspect(engine).get_pk_constraint("activity_log")["constrained_columns"] == []
    distinct_rows = "SELECT DISTINCT logged_on, user_id, message FROM activity_log"
    distinct = _one(engine, f"SELECT COUNT(*) FROM ({distinct_rows}) AS d")
    assert counts["activity_log"] - distinct >= 56  # the copies written on purpose
    null_copies = _rows(
        engine,
        "SELECT COUNT(*) FROM activity_log WHERE logged_on IS NULL "
        "GROUP BY user_id, message HAVING COUNT(*) > 1",
    )
    assert null_copies


def test_non_ascii_names_and_keys(zoo: tuple[str, sa.Engine, dict[str, int]]) -> None:
    _, engine, _ = zoo
    inspector = sa.inspect(engine)
    columns = [c["name"] for c in inspector.get_columns("adressen")]
    assert columns == ["Schlüssel", "Straße", "Ort", "Name"]
    assert inspector.get_pk_constraint("adressen")["constrained_columns"] == ["Schlüssel"]
    names = {name for (name,) in _rows(engine, f"SELECT {_quoted(engine, 'Name')} FROM adressen")}
    assert {"Müller", "MÜLLER", "Mueller"} <= names
    codes = [code.rstrip(" ") for (code,) in _rows(engine, "SELECT code FROM char_keys")]
    assert "" in codes  # the all-blank key
    assert {"A/B", "2026/11/25", "/LEADING", "A,B", "ÄÖÜ/ß", "50%"} <= set(codes)
    assert len(set(codes)) == len(codes) == 120


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Did not recognize type:sqlalchemy.exc.SAWarning")
def test_postgresql_types_and_objects(zoos: _Zoos) -> None:
    engine, _ = zoos.get("postgresql")
    inspector = sa.inspect(engine)
    types = {c["name"]: type(c["type"]).__name__ for c in inspector.get_columns("scalars")}
    assert types["ident"] == "UUID" and types["state"] == "ENUM" and types["price"] == "MONEY"
    assert types["amount"] == "DOMAIN" and types["bits"] == "BIT"
    documents = {c["name"]: type(c["type"]).__name__ for c in inspector.get_columns("documents")}
    assert documents["docb"] == "JSONB" and documents["tags"] == "ARRAY"
    assert documents["search"] == "TSVECTOR" and documents["span"] == "INT4RANGE"
    assert _one(engine, "SELECT enum_range(NULL::job_state)::text") == "{queued,running,held,done}"
    assert inspector.get_materialized_view_names() == list(postgresql.MATERIALIZED_VIEWS)
    assert set(postgresql.VIEWS) <= set(inspector.get_view_names())
    assert inspector.get_pk_constraint("unique_only")["constrained_columns"] == []
    assert [u["column_names"] for u in inspector.get_unique_constraints("unique_only")] == [
        ["code"]
    ]
    parts = [_one(engine, f"SELECT COUNT(*) FROM {p}") for p in postgresql.PARTITIONS]
    assert all(parts) and sum(parts) == 240
    children = (
        "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'readings'::regclass"
    )
    partitions = _rows(engine, children + " ORDER BY 1")
    assert [p for (p,) in partitions] == list(postgresql.PARTITIONS)
    (fk,) = inspector.get_foreign_keys("customer", schema="sales")
    assert (fk["referred_schema"], fk["referred_table"]) == ("person", "address")
    assert inspector.get_table_names(schema="sales") == ["customer"]


def test_postgresql_awkward_values(zoos: _Zoos) -> None:
    engine, _ = zoos.get("postgresql")
    as_text = "COALESCE(d::text, t::text, ts::text, tstz::text)"
    edges = dict(_rows(engine, f"SELECT what, {as_text} FROM temporal_edges"))
    assert edges["date infinity"] == "infinity" and edges["time 24:00"] == "24:00:00"
    assert edges["date BC"] == "0044-03-15 BC" and edges["timestamp infinity"] == "infinity"
    assert _one(engine, "SELECT COUNT(*) FROM scalars WHERE score = 'NaN'") == 1
    assert _one(engine, "SELECT COUNT(*) FROM scalars WHERE score = '-Infinity'") == 1
    assert _one(engine, "SELECT COUNT(*) FROM documents WHERE tags = '{}'") > 0
    assert _one(engine, "SELECT COUNT(*) FROM documents WHERE array_position(scores, NULL) > 0")
    assert _one(engine, "SELECT COUNT(*) FROM documents WHERE isempty(span)") > 0
    assert _one(engine, "SELECT COUNT(*) FROM temporal WHERE iv = '1 mon'") > 0
    assert _one(engine, "SELECT max(length(big::text)) FROM scalars") == 40  # 19 + . + 20
    assert _one(engine, "SELECT min(scale(big)) FROM scalars") == 20


# --- MariaDB -------------------------------------------------------------------------------


def test_mariadb_times_zero_dates_and_unsigned_keys(zoos: _Zoos) -> None:
    engine, _ = zoos.get("mariadb")
    times = {t for (t,) in _rows(engine, "SELECT t FROM temporal")}
    assert {timedelta(hours=26), timedelta(hours=-1, minutes=-30)} <= times
    assert timedelta(hours=-838, minutes=-59, seconds=-59) in times
    zero_dates = "CAST(d AS CHAR) = '0000-00-00' AND CAST(dt AS CHAR) LIKE '0000-00-00 00:00:00%'"
    zero = _rows(engine, f"SELECT id FROM temporal WHERE {zero_dates} ORDER BY id")
    assert [i for (i,) in zero] == list(mariadb.ZERO_DATE_IDS)
    assert _one(engine, "SELECT CAST(d AS CHAR) FROM temporal WHERE id = 4") == "2026-11-00"
    assert _one(engine, "SELECT COUNT(*) FROM temporal WHERE y = 0") == 1
    keys = {k for (k,) in _rows(engine, "SELECT id FROM scalars WHERE id > 9223372036854775806")}
    assert keys == set(mariadb.BIG_KEYS)
    assert _one(engine, "SELECT COUNT(*) FROM scalars WHERE tags = ''") > 0
    shapes = "SELECT DISTINCT ST_GeometryType(geom) FROM scalars WHERE geom IS NOT NULL"
    assert {g for (g,) in _rows(engine, shapes)} == {"POINT", "LINESTRING", "POLYGON"}
    assert _one(engine, "SELECT COUNT(DISTINCT bit1) FROM scalars") == 2


def test_mariadb_case_keys_collide_only_in_the_collation(zoos: _Zoos) -> None:
    engine, _ = zoos.get("mariadb")
    assert sa.inspect(engine).get_pk_constraint("case_keys")["constrained_columns"] == []
    collation = _one(engine, "SELECT COLLATION(code) FROM case_keys LIMIT 1")
    assert collation.endswith("_ci")
    by_collation = _one(engine, "SELECT COUNT(DISTINCT code) FROM case_keys")
    exact = _one(engine, "SELECT COUNT(DISTINCT BINARY code) FROM case_keys")
    assert by_collation < exact
    assert _one(engine, "SELECT COUNT(*) FROM case_keys WHERE code = 'abc'") > _one(
        engine, "SELECT COUNT(*) FROM case_keys WHERE BINARY code = 'abc'"
    )


# --- SQLite --------------------------------------------------------------------------------


def test_sqlite_storage_classes(zoos: _Zoos) -> None:
    engine, _ = zoos.get("sqlite")
    mixed = dict(_rows(engine, "SELECT typeof(d_mixed), COUNT(*) FROM temporal GROUP BY 1"))
    assert set(mixed) == {"text", "integer", "null"}
    assert _one(engine, "SELECT COUNT(*) FROM temporal WHERE d_text LIKE '__/__/____'") == 240
    assert _one(engine, "SELECT typeof(d_int) FROM temporal LIMIT 1") == "integer"
    assert _one(engine, "SELECT typeof(ts_unix) FROM temporal LIMIT 1") == "integer"
    assert _one(engine, "SELECT COUNT(*) FROM temporal WHERE ts_iso LIKE '%T%'") == 120
    anything = {t for (t,) in _rows(engine, "SELECT DISTINCT typeof(anything) FROM scalars")}
    assert anything == {"integer", "real", "text", "blob", "null"}
    amounts = {t for (t,) in _rows(engine, "SELECT DISTINCT typeof(amount) FROM scalars")}
    assert {"integer", "real"} <= amounts
    assert {f for (f,) in _rows(engine, "SELECT DISTINCT flag_tf FROM scalars")} == {
        "t",
        "f",
        None,
    }
    assert "WITHOUT ROWID" in _one(engine, "SELECT sql FROM sqlite_master WHERE name = 'codes'")
    assert [c["name"] for c in sa.inspect(engine).get_columns("scalars")][6] == "anything"
    assert sqlite.VIEWS == ("open_jobs",)


def test_rebuild_replaces_and_is_deterministic(tmp_path: pathlib.Path) -> None:
    with (
        temporary_database("sqlite", tmp_path) as first,
        temporary_database("sqlite", tmp_path) as second,
    ):
        counts = types_zoo.build(first)
        assert types_zoo.build(first) == counts == types_zoo.build(second)
        engines = [sa.create_engine(u) for u in (first, second)]
        try:
            for table in ("jobs", "temporal", "scalars", "activity_log"):
                sql = f"SELECT * FROM {table} ORDER BY 1, 2, 3"
                assert _rows(engines[0], sql) == _rows(engines[1], sql), table
        finally:
            for engine in engines:
                engine.dispose()
