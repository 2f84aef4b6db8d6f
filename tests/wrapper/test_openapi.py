"""The OpenAPI documents: valid OpenAPI 3.1, true to the responses, committed, served offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from wrapper.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_documents_are_valid_openapi_3_1(client: FlaskClient, version: str) -> None:
    spec = client.get(f"/{version}/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def assert_matches(spec: dict, schema_name: str, body: object) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    errors = list(OAS31Validator(schema).iter_errors(body))
    assert not errors, [e.message for e in errors[:5]]


RESPONSES = [
    ("/v1/jobs?limit=100", "V1JobsPage"),
    ("/v1/jobs?limit=3&expand=order&count=exact", "V1JobsPage"),
    ("/v1/orders?limit=100&expand=lines,customer", "V1OrdersPage"),
    ("/v1/customers?limit=200", "V1CustomersPage"),
    ("/v1/order_lines?limit=200", "V1OrderLinesPage"),
    ("/v1/activity_log?limit=200", "V1ActivityLogPage"),
    ("/v1/codes", "V1CodesPage"),
    ("/v1/order_lines/O000000001,1", "V1OrderLines"),
    ("/v1/jobs?fields=job_id,status&limit=5", "V1JobsPage"),
    ("/v2/jobs?limit=100", "V2JobsPage"),
    ("/v2/orders?limit=100", "V2OrdersPage"),
]


@pytest.mark.parametrize(("url", "schema_name"), RESPONSES, ids=[r[0] for r in RESPONSES])
def test_rendered_bodies_match_the_documented_schemas(
    client: FlaskClient, url: str, schema_name: str
) -> None:
    version = url.split("/")[1]
    spec = client.get(f"/{version}/openapi.json").get_json()
    response = client.get(url)
    assert response.status_code == 200
    assert_matches(spec, schema_name, response.get_json())


def test_problems_match_the_documented_schema(client: FlaskClient) -> None:
    spec = client.get("/v1/openapi.json").get_json()
    response = client.get("/v1/jobs?limit=0")
    documented = spec["paths"]["/v1/jobs"]["get"]["responses"]["400"]["content"]
    assert list(documented) == ["application/problem+json"]
    assert_matches(spec, "Problem", response.get_json())


def test_a_wrong_body_is_caught() -> None:
    spec = {
        "components": {
            "schemas": {
                "X": {
                    "type": "object",
                    "properties": {"a": {"type": "integer"}},
                    "additionalProperties": False,
                }
            }
        }
    }
    with pytest.raises(AssertionError):
        assert_matches(spec, "X", {"a": "1"})
    with pytest.raises(AssertionError):
        assert_matches(spec, "X", {"b": 1})


def test_enums_and_filters_are_documented(client: FlaskClient) -> None:
    spec = client.get("/v1/openapi.json").get_json()
    status = spec["components"]["schemas"]["V1Jobs"]["properties"]["status"]
    assert {"queued", "running", "held", "complete"} <= set(status["enum"])
    params = {p["name"] for p in spec["paths"]["/v1/jobs"]["get"]["parameters"]}
    assert {
        "status",
        "status[in]",
        "due_date[gte]",
        "sort",
        "fields",
        "limit",
        "cursor",
        "expand",
        "count",
    } <= params
    assert "operator" not in params  # not filterable in the mapping


def test_docs_ui_is_served_without_a_cdn(client: FlaskClient) -> None:
    html = client.get("/v1/docs").get_data(as_text=True)
    assert "/_assets/swagger-ui/swagger-ui-bundle.js" in html
    assert "/v1/openapi.json" in html
    assert "http://" not in html and "https://" not in html
    asset = client.get("/_assets/swagger-ui/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    assert client.get("/v2/docs").status_code == 200


def test_committed_specs_match_the_code() -> None:
    result = CliRunner().invoke(
        main, ["openapi", "--demo", "--check", "--out", str(ROOT / "openapi")]
    )
    assert result.exit_code == 0, result.output
