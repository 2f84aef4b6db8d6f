"""`inspect` -> `init` -> serve on real sample databases and on each backend's type
zoo, without an edit: every resource walked to the end with cursors (row count
equals COUNT(*), no key twice), items by key (slashes, blanks, unsigned 64-bit
keys), every offered filter operator and sort, `expand` on every written
relation, and every page and item valid against the OpenAPI document with format
checking on (`bench/corpus_walk.py` does the walking).

Findings that stay by design (values with no JSON form, `NO_JSON_FORM`) and
any the source adapter still owes (`ADAPTER_SIDE`) are listed exactly: each
must still occur, so the lists shrink when a finding goes away.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from bench.corpus_report import CASES, Case, close_app, run_init, start_app
from bench.corpus_walk import Walker
from fixtures import types_zoo
from fixtures.databases import backend_available, temporary_database
from legacy_adapters.sql import SQLAlchemySource
from wrapper.config.sources import DEFAULT_SOURCE
from wrapper.mapping.converters import build_converter, infer_converter

# (case, resource, finding kind) that stay by design: values with no JSON form of
# their type are served as null and named in Unrendered-Fields.
NO_JSON_FORM: dict[str, set[tuple[str, str]]] = {
    "zoo-postgresql": {
        # infinity, -infinity and BC dates (the adapter returns PostgreSQL's text):
        # no ISO 8601 date.
        ("temporal_edges", "values lost"),
        # NaN and infinities: no JSON number.
        ("scalars", "values lost"),
    },
    # DATE and DATETIME columns holding 25/11/2026 or Unix seconds (returned as stored).
    "zoo-sqlite": {("temporal", "values lost")},
}

# (case, resource, finding kind) the mapping cannot fix: what the adapter must
# still give. Empty: a finding here is a regression of the source adapter.
ADAPTER_SIDE: dict[str, set[tuple[str, str]]] = {}


def _case(case: Case) -> Case:
    reason = backend_available(case.backend)
    if reason:
        pytest.skip(reason)
    return case


def _round_trip(url: str, schemas: tuple[str, ...], text: str) -> list[str]:
    """Every column: the converter init wrote builds into the converter inference
    chose (same class, options, operators, sort and schema)."""
    source = SQLAlchemySource(url)
    try:
        schema = source.reflect(schemas=list(schemas) or [None])
    finally:
        source.close()
    written = {
        (r["table"], r.get("schema")): r
        for r in yaml.safe_load(text)["versions"]["v1"]["resources"].values()
    }
    wrong = []
    for table in schema.tables:
        resource = written.get((table.ref.name, table.ref.schema))
        assert resource is not None, f"init left out {table.ref}"
        by_column = {f["column"]: f for f in resource["fields"].values()}
        for column in table.columns:
            declared = by_column[column.name]["convert"]
            built = build_converter(declared, column, schema.dialect).describe()
            if built != infer_converter(column, schema.dialect).describe():
                wrong.append(f"{table.ref}.{column.name} ({column.type}): {declared}")
    return wrong


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_init_serves_every_resource_without_an_edit(case: Case, tmp_path: Path) -> None:
    case = _case(case)
    with temporary_database(case.backend, tmp_path) as url:
        case.load(url)
        path = tmp_path / "init.yaml"
        run_init(url, case.schemas, path)
        text = path.read_text(encoding="utf-8")
        assert _round_trip(url, case.schemas, text) == []
        app, problems = start_app(path)
        assert app is not None, problems
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            # small tables (the zoo) in small pages, so that pages have edges to cross
            pages = {"limit": 50, "sort_limit": 50} if case.database == "zoo" else {}
            options = {"limit": 100, "sort_limit": 500, "max_items": 15} | pages
            walks = Walker(app, engine, **options).walk_all()
            state = app.extensions["legacy_wrapper"]
            schema = state.schemas[DEFAULT_SOURCE]
            for resource in state.mapping.versions["v1"].resources.values():
                table = schema.table(resource.table)
                for field in resource.fields:  # the loader built what inference chose
                    inferred = infer_converter(table.column(field.column), schema.dialect)
                    assert field.converter.describe() == inferred.describe(), field.name
        finally:
            close_app(app)
            engine.dispose()
    found = {(w.name, f.kind) for w in walks for f in w.findings.values()}
    expected = ADAPTER_SIDE.get(case.name, set()) | NO_JSON_FORM.get(case.name, set())
    unexpected = {
        (w.name, f.kind, f.what, f.cause, f.example)
        for w in walks
        for f in w.findings.values()
        if (w.name, f.kind) not in expected
    }
    assert unexpected == set()
    assert expected - found == set(), "the adapter now does this: shorten ADAPTER_SIDE"
    assert all(w.walked_rows is not None for w in walks if (w.name, "5xx") not in expected)


# ---------------------------------------------------------------------------- the zoo by hand


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mariadb"])
def zoo(request, tmp_path_factory) -> Iterator[tuple[str, object]]:
    backend = request.param
    _case(Case("zoo", backend))
    tmp = tmp_path_factory.mktemp(f"zoo-{backend}")
    with temporary_database(backend, tmp) as url:
        types_zoo.build(url)
        path = tmp / "init.yaml"
        schemas = ("public", "person", "sales") if backend == "postgresql" else ()
        run_init(url, schemas, path)
        app, problems = start_app(path)
        assert app is not None, problems
        try:
            yield backend, app.test_client()
        finally:
            close_app(app)


def test_the_dashboard_query_works_on_an_init_written_mapping(zoo) -> None:
    _, client = zoo
    body = client.get("/v1/jobs?work_center=WC03&sort=due_date&limit=1000").get_json()
    dates = [j["due_date"] for j in body["data"]]
    assert {j["work_center"] for j in body["data"]} == {"WC03"}
    present = [d for d in dates if d is not None]
    assert present == sorted(present) and len(dates) > 10


def test_keys_a_user_can_reach(zoo) -> None:
    backend, client = zoo
    for key in ("A%2FB", "2026%2F11%2F25", "%2FLEADING", "A,B", "%C3%84%C3%96%C3%9C%2F%C3%9F"):
        response = client.get(f"/v1/char_keys/{key}")
        assert response.status_code == 200, (key, response.get_json())
    blank = client.get("/v1/char_keys/%20").get_json()
    assert blank["code"] == "" and client.get("/v1/char_keys/").get_json() == blank
    # a smallint line number no row can have is a missing item, not a bad request
    assert client.get("/v1/order_lines/O000000001,99999").status_code == 404
    assert client.get("/v1/order_lines/O000000001,1").status_code == 200
    if backend == "mariadb":  # BIGINT UNSIGNED beyond 2^63 - 1
        for key in (2**63, 2**64 - 1):
            assert client.get(f"/v1/scalars/{key}").get_json()["id"] == key


def test_an_array_filter_is_refused_not_answered_empty(zoo) -> None:
    backend, client = zoo
    if backend != "postgresql":
        pytest.skip("arrays are PostgreSQL's")
    response = client.get("/v1/documents?tags=red")
    assert response.status_code == 400
    assert "tags" in response.get_json()["detail"]


def test_values_without_a_json_form_are_null_and_named(zoo) -> None:
    backend, client = zoo
    if backend != "postgresql":
        pytest.skip("NaN in a double precision column is PostgreSQL's")
    response = client.get("/v1/scalars?fields=id,score&limit=20")
    assert response.status_code == 200
    assert response.headers["Unrendered-Fields"] == "score"
    scores = {r["id"]: r["score"] for r in response.get_json()["data"]}
    assert scores[7] is None and scores[8] is None and isinstance(scores[1], float)


def test_native_types_come_out_faithful(zoo) -> None:
    backend, client = zoo
    if backend == "mariadb":
        rows = {r["id"]: r for r in client.get("/v1/temporal?limit=1000").get_json()["data"]}
        assert rows[3]["d"] is None  # the zero date 0000-00-00 means no value
        assert "26:00:00" in {r["t"] for r in rows.values()}  # a TIME is a duration
        assert "-838:59:59" in {r["t"] for r in rows.values()}
        assert client.get("/v1/temporal?d[isnull]=true&limit=1000").status_code == 200
        assert client.get("/v1/scalars?bit1=true&limit=1").status_code == 200
        first = client.get("/v1/scalars?limit=3").get_json()["data"]
        assert all(isinstance(r["bit1"], bool) for r in first)
        assert all(isinstance(r["tags"], list | type(None)) for r in first)
    if backend == "postgresql":
        doc = client.get("/v1/documents/1").get_json()
        assert doc["docb"]["nested"]["big"] == 2**70
        assert isinstance(doc["tags"], list)
        assert doc["span"].startswith(("[", "(", "empty"))
        temporal = client.get("/v1/temporal/1").get_json()
        assert temporal["iv"].startswith(("P", "-P"))
