"""The OpenAPI documents and the API agree: schemathesis generates requests from each
version's document (in process, with a token that reaches every resource) and
checks every answer against it.

Bounded and deterministic: a fixed seed, derandomized generation, ten examples
per operation plus schemathesis' coverage phase (boundary values such as empty
strings, and requests the document forbids, which must be refused); about 15 s
on an idle 2-core machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from flask import Flask
from schemathesis.engine import events, from_schema

from ..support.demo import build_demo, close_app, open_app, write_config
from ..support.tokens import token

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",  # a request the document allows is not refused with a 400
)
# A subscription's body can fit the document and still be refused: its URL may not
# resolve or be blocked, its event types name no resource the caller may read.
JUDGED_BEYOND_THE_DOCUMENT = ("/webhooks",)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("conformance")
    app = open_app(write_config(folder, build_demo(folder)))
    yield app, token(app)
    close_app(app)


def without_cursor(document: dict[str, Any]) -> dict[str, Any]:
    """A cursor is sealed by the server, so none can be generated: the run leaves the
    parameter out (test_pagination walks real cursors and refuses made-up ones)."""
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [
                    p for p in operation["parameters"] if p["name"] != "cursor"
                ]
    return document


@pytest.mark.conformance
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_every_operation_conforms_to_its_document(
    demo: tuple[Flask, dict[str, str]], version: str
) -> None:
    app, headers = demo
    config = schemathesis.Config.from_dict(
        {
            "seed": 1998,
            "headers": headers,
            "generation": {
                "mode": "all",
                "max-examples": 10,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )
    document = app.test_client().get(f"/{version}/openapi.json").get_json()
    schema = schemathesis.openapi.from_dict(without_cursor(document), config=config)
    schema.app = app  # in process, through the WSGI interface
    scenarios, checked, failures = 0, 0, []
    for event in from_schema(schema).execute():
        if isinstance(event, events.FatalError | events.NonFatalError):
            failures.append(f"{type(event).__name__}: {event}")
        if not isinstance(event, events.ScenarioFinished):
            continue
        scenarios += 1
        for case_id, results in event.recorder.checks.items():
            for result in results:
                checked += 1
                label = event.recorder.label
                if result.name == "positive_data_acceptance" and any(
                    part in label for part in JUDGED_BEYOND_THE_DOCUMENT
                ):
                    continue
                if str(result.status) != "success":
                    response = event.recorder.interactions[case_id].response
                    body = response.content[:400] if response else b""
                    failures.append(f"{label} {result.name}: {body!r}")
    operations = sum(
        1 + bool(r.key)
        for r in app.extensions["legacy_wrapper"].mapping.versions[version].resources.values()
    )
    assert scenarios >= operations and checked > 10 * operations
    assert not failures, "\n".join(failures[:10])
