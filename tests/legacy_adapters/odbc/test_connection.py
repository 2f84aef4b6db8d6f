"""Connection strings as a configuration writes them: prefix, environment
variables, and messages that never show a secret."""

from __future__ import annotations

import pytest

from legacy_adapters.odbc.connection import (
    ConnectionStringError,
    attributes,
    describe,
    expand,
    redacted,
    strip_prefix,
)


def test_prefix_is_stripped_and_an_empty_string_refused() -> None:
    assert strip_prefix("odbc:DSN=PLANT") == "DSN=PLANT"
    with pytest.raises(ConnectionStringError, match="empty"):
        strip_prefix("odbc:  ")


def test_environment_variables_are_substituted_when_opened() -> None:
    text = "DSN=PLANT;UID=${PLANT_USER};PWD=${PLANT_PWD}"
    assert expand(text, {"PLANT_USER": "reader", "PLANT_PWD": "s3;cr}t"}) == (
        "DSN=PLANT;UID=reader;PWD=s3;cr}t"
    )


def test_a_missing_variable_is_named_not_left_empty() -> None:
    with pytest.raises(ConnectionStringError, match="PLANT_PWD"):
        expand("DSN=PLANT;PWD=${PLANT_PWD}", {})


def test_braced_values_and_escaped_braces() -> None:
    pairs = attributes("DRIVER={PostgreSQL Unicode};Server=db; PWD={a;b}}c};Port=5432")
    assert pairs == [
        ("DRIVER", "PostgreSQL Unicode"),
        ("Server", "db"),
        ("PWD", "a;b}c"),
        ("Port", "5432"),
    ]


def test_messages_mask_secrets() -> None:
    text = "DRIVER={X};UID=reader;PWD=hunter2;Password=hunter3"
    shown = redacted(text)
    assert "hunter" not in shown
    assert "UID=reader" in shown and "PWD=***" in shown
    assert describe(text) == "DRIVER=X"
    assert describe("DSN=PLANT;PWD=x") == "DSN=PLANT"
