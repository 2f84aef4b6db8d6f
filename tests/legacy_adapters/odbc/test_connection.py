"""Connection strings as a configuration writes them: prefix, environment
variables, and messages that never show a secret."""

from __future__ import annotations

import subprocess
import sys

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


def test_pyodbc_is_imported_only_when_an_odbc_source_is_used() -> None:
    """Its wheel needs the system's libodbc.so.2: a deployment without ODBC sources
    must start without it."""
    code = (
        "import sys, wrapper.app, wrapper.cli, wrapper.sources, legacy_adapters.odbc\n"
        "assert 'pyodbc' not in sys.modules, 'pyodbc imported too early'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
