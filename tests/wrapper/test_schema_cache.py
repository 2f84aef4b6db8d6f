"""Starting while the legacy database is down: from the schema saved at the last
start, answering 503 until the database is back, then serving without a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from legacy_adapters.base import SourceUnavailable
from wrapper.app import create_app
from wrapper.config import ConfigError, load_config
from wrapper.demo import MAPPING
from wrapper.schema_cache import load_schema, read_snapshot, snapshot_path
from wrapper.sources import open_source

from ..support.demo import demo_mapping
from ..support.outages import outage


def write_config(folder: Path, url: str, text: str | None = None) -> Path:
    config = folder / "wrapper.yaml"
    text = demo_mapping(url, text)
    config.write_text(text.replace("statement_timeout: 5", "statement_timeout: 1"))
    return config


def started(config: Path):  # type: ignore[no-untyped-def]
    return create_app(load_config(config), no_auth=True)


def test_a_start_during_an_outage_serves_503_then_recovers(demo_url: str, tmp_path: Path) -> None:
    with outage(demo_url, tmp_path) as db:
        config = write_config(tmp_path, db.url)
        started(config).extensions["legacy_wrapper"].close()  # saves the schema
        db.set("refuse")
        app = started(config)
        client = app.test_client()
        try:
            response = client.get("/v1/jobs?limit=2")
            assert response.status_code == 503 and response.headers["Retry-After"]
            assert response.mimetype == "application/problem+json"
            assert client.get("/readyz").status_code == 503
            assert client.get("/livez").status_code == 200
            assert client.get("/v1/openapi.json").status_code == 200
            db.set("forward")
            response = client.get("/v1/jobs?limit=2&sort=due_date")
            assert response.status_code == 200, response.get_json()
            assert len(response.get_json()["data"]) == 2
            assert client.get("/v1/orders?expand=lines,customer&limit=1").status_code == 200
            assert client.get("/readyz").status_code == 200
        finally:
            app.extensions["legacy_wrapper"].close()


def test_the_first_start_needs_the_database(demo_url: str, tmp_path: Path) -> None:
    with outage(demo_url, tmp_path) as db:
        config = write_config(tmp_path, db.url)
        db.set("refuse")
        with pytest.raises(SourceUnavailable, match=r"no saved schema at .*schema-"):
            started(config)


def test_a_mapping_that_does_not_fit_the_saved_schema_is_refused(
    demo_url: str, tmp_path: Path
) -> None:
    with outage(demo_url, tmp_path) as db:
        config = write_config(tmp_path, db.url)
        started(config).extensions["legacy_wrapper"].close()
        db.set("refuse")
        text = config.read_text().replace("{column: JOB_NO,", "{column: JOB_NUMBER,", 1)
        config.write_text(text)
        with pytest.raises(ConfigError) as refused:
            started(config)
        assert any("JOB_NUMBER" in problem for problem in refused.value.problems)


def test_the_saved_schema_is_the_reflected_one(demo_url: str, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, demo_url))
    source = open_source(config.sources["default"])
    try:
        schema = load_schema(source, config, "default")
    finally:
        source.close()
    path = snapshot_path(config, "default")
    assert path is not None and path.parent == tmp_path / ".legacy-wrapper"
    assert read_snapshot(path) == schema
    # only the mapped tables, not the rest of the database (TRIKEY, NOKEY_DUPS, ...)
    mapped = {"CUSTMAST", "ORDHDR", "ORDLINE", "JOBSCHED", "ACTLOG", "CODETBL"}
    assert {t.ref.name for t in schema.tables} == mapped


def test_source_schema_cache_puts_the_copy_where_it_says(demo_url: str, tmp_path: Path) -> None:
    text = MAPPING.read_text().replace(
        "statement_timeout: 5", "statement_timeout: 5\n  schema_cache: state/schema.json"
    )
    config = load_config(write_config(tmp_path, demo_url, text))
    source = open_source(config.sources["default"])
    try:
        schema = load_schema(source, config, "default")
    finally:
        source.close()
    assert read_snapshot(tmp_path / "state" / "schema.json") == schema
    assert not (tmp_path / ".legacy-wrapper").exists()
