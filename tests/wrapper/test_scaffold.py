"""`init` on a schema with the shapes real databases have: foreign keys both ways
(composite, self-referencing, two to one table), composite indexes, keyless
tables, unique-only identities, non-ASCII names and unorderable types; the
mapping it writes loads and serves."""

from __future__ import annotations

import yaml

from legacy_adapters.base import (
    ColumnInfo,
    ForeignKeyInfo,
    IndexInfo,
    Schema,
    TableInfo,
    TableRef,
)
from legacy_adapters.memory import MemorySource
from wrapper.app import create_app
from wrapper.config import parse_config
from wrapper.config.sources import DEFAULT_SOURCE
from wrapper.scaffold import scaffold, snake_case


def c(name: str, type_: str, python_type: str, nullable: bool = True) -> ColumnInfo:
    return ColumnInfo(name, type_, nullable, python_type)


CENTERS = TableInfo(
    TableRef("WorkCenter"), "table", (c("Code", "CHAR(4)", "str", False), c("Name", "TEXT", "str")),
    primary_key=("Code",),
)  # fmt: skip
EMPLOYEES = TableInfo(
    TableRef("Employee"),
    "table",
    (c("EmployeeId", "INTEGER", "int", False), c("ReportsTo", "INTEGER", "int")),
    primary_key=("EmployeeId",),
    foreign_keys=(ForeignKeyInfo(("ReportsTo",), None, "Employee", ("EmployeeId",)),),
)
JOBS = TableInfo(
    TableRef("Jobs"),
    "table",
    (
        c("JobId", "INTEGER", "int", False),
        c("WorkCenterCode", "CHAR(4)", "str", False),
        c("DueDate", "DATE", "date"),
        c("Tags", "JSONB", "object"),
        c("OwnerId", "INTEGER", "int"),
        c("CheckerId", "INTEGER", "int"),
    ),
    primary_key=("JobId",),
    indexes=(
        IndexInfo("ix_wc_due", ("WorkCenterCode", "DueDate"), False),
        IndexInfo("ix_tags", ("Tags",), False),
    ),
    foreign_keys=(
        ForeignKeyInfo(("WorkCenterCode",), None, "WorkCenter", ("Code",)),
        ForeignKeyInfo(("OwnerId",), None, "Employee", ("EmployeeId",)),
        ForeignKeyInfo(("CheckerId",), None, "Employee", ("EmployeeId",)),
    ),
)
LINES = TableInfo(
    TableRef("order_line"),
    "table",
    (c("order_no", "CHAR(10)", "str", False), c("line_no", "SMALLINT", "int", False)),
    primary_key=("order_no", "line_no"),
)
SHIPMENTS = TableInfo(
    TableRef("shipment"),
    "table",
    (c("id", "INTEGER", "int", False), c("order_no", "CHAR(10)", "str"), c("line", "SMALLINT", "int")),
    primary_key=("id",),
    foreign_keys=(ForeignKeyInfo(("order_no", "line"), None, "order_line", ("order_no", "line_no")),),
)  # fmt: skip
ADRESSEN = TableInfo(
    TableRef("Adressen"),
    "table",
    (c("Schlüssel", "INTEGER", "int", False), c("Straße", "VARCHAR(60)", "str")),
    primary_key=("Schlüssel",),
)
UNIQUE_ONLY = TableInfo(
    TableRef("unique_only"),
    "table",
    (c("code", "VARCHAR(10)", "str", False), c("label", "TEXT", "str")),
    indexes=(IndexInfo("uq_code", ("code",), True),),
)
FEED = TableInfo(TableRef("feed"), "view", (c("doc", "JSON", "object"), c("n", "INTEGER", "int")))
BLOBS = TableInfo(
    TableRef("blobs"), "view", (c("doc", "JSON", "object"), c("raw", "BYTEA", "bytes"))
)
TABLES = (CENTERS, EMPLOYEES, JOBS, LINES, SHIPMENTS, ADRESSEN, UNIQUE_ONLY, FEED, BLOBS)


def _written() -> tuple[str, dict]:
    text = scaffold(Schema("postgresql", TABLES), "postgresql://x/y")
    return text, yaml.safe_load(text)["versions"]["v1"]["resources"]


def test_non_ascii_names_are_transliterated() -> None:
    assert snake_case("Schlüssel") == "schluessel"
    assert snake_case("Straße") == "strasse"
    assert snake_case("ÆrøŁukasz") == "aero_lukasz"
    assert snake_case("WorkCenterCode") == "work_center_code"
    assert set(_written()[1]["adressen"]["fields"]) == {"schluessel", "strasse"}


def test_relations_both_ways_with_collision_safe_names() -> None:
    resources = _written()[1]
    jobs = resources["jobs"]["relations"]
    assert jobs["work_center"] == {
        "resource": "work_center", "on": {"work_center_code": "code"}, "many": False,
    }  # fmt: skip
    # two keys to one table: each named by its column
    assert jobs["owner"]["on"] == {"owner_id": "employee_id"}
    assert jobs["checker"]["on"] == {"checker_id": "employee_id"}
    employee = resources["employee"]["relations"]
    assert employee["jobs_by_owner_id"] == {
        "resource": "jobs", "on": {"employee_id": "owner_id"}, "many": True,
    }  # fmt: skip
    assert "jobs_by_checker_id" in employee
    # self-reference: the referenced table's name, then the plural
    assert employee["employee"] == {
        "resource": "employee", "on": {"reports_to": "employee_id"}, "many": False,
    }  # fmt: skip
    assert employee["employees"]["many"] is True
    # composite foreign keys
    assert resources["shipment"]["relations"]["order_line"]["on"] == {
        "order_no": "order_no", "line": "line_no",
    }  # fmt: skip
    assert resources["order_line"]["relations"]["shipments"]["many"] is True
    assert resources["work_center"]["relations"]["jobs"]["many"] is True


def test_sort_on_every_column_an_index_delivers_in_order_and_no_impossible_operator() -> None:
    fields = _written()[1]["jobs"]["fields"]
    assert fields["work_center_code"]["sort"] is True
    assert fields["due_date"]["sort"] is True  # after equality on work_center_code
    assert fields["due_date"]["convert"] == "native_date"
    assert fields["tags"] == {"column": "Tags", "convert": "json"}  # no filter, no sort
    assert "sort" not in fields["owner_id"]  # no index


def test_keys_from_unique_indexes_and_keyless_resources() -> None:
    text, resources = _written()
    assert resources["unique_only"]["key"] == ["code"]
    assert "key" not in resources["feed"]
    assert "# No key: pages are ordered by n; doc cannot be ordered." in text
    # nothing to page over: written as a comment saying why, not as a broken resource
    assert "blobs" not in resources
    assert "      # Left out: blobs has no key, and none of its columns can be ordered" in text
    assert "      #   table: blobs" in text


def test_the_written_mapping_loads_and_serves_expand_and_the_dashboard_sort() -> None:
    text, _ = _written()
    rows = {
        CENTERS: [("WC03", "Mill")],
        EMPLOYEES: [(1, None), (2, 1)],
        JOBS: [(10, "WC03", None, None, 2, 1), (11, "WC03", None, {"a": 1}, 1, 2)],
        LINES: [("O1        ", 1)],
        SHIPMENTS: [(1, "O1        ", 1)],
        ADRESSEN: [(1, "Hauptstraße 1")],
        UNIQUE_ONLY: [("U1", "x")],
        FEED: [({"a": [1]}, 1)],
        BLOBS: [],
    }
    config = parse_config(text.replace("postgresql://x/y", "sqlite://"), filename="init.yaml")
    app = create_app(config, sources={DEFAULT_SOURCE: MemorySource(rows)}, no_auth=True)
    client = app.test_client()
    page = client.get("/v1/jobs?work_center_code=WC03&sort=due_date&expand=owner,work_center")
    assert page.status_code == 200, page.get_json()
    first = page.get_json()["data"][0]
    assert first["owner"] == {"employee_id": 2, "reports_to": 1}
    assert first["work_center"] == {"code": "WC03", "name": "Mill"}
    employee = client.get("/v1/employee/1?expand=employees,jobs_by_owner_id").get_json()
    assert [e["employee_id"] for e in employee["employees"]] == [2]
    assert [j["job_id"] for j in employee["jobs_by_owner_id"]] == [11]
    assert client.get("/v1/unique_only/U1").get_json() == {"code": "U1", "label": "x"}
    assert client.get("/v1/shipment/1?expand=order_line").get_json()["order_line"]["line_no"] == 1
    refused = client.get("/v1/jobs?tags=x")
    assert refused.status_code == 400
