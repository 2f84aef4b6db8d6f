"""Legacy errors by cause: a query the database refuses is a 500 `legacy-rejected`
problem whose body holds no SQL (the log has it all); a connection that cannot be
made is a 503 `legacy-unavailable`; a statement timeout a 503 `legacy-timeout`."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from fixtures.databases import temporary_database
from wrapper.app import create_app
from wrapper.config import parse_config

MAPPING = """
source: {{url: "{url}", statement_timeout: 2}}
versions:
  v1:
    resources:
      parts: {{table: PARTS, fields: {{part_no: PART_NO, note: NOTE}}}}
"""


def test_a_refused_query_is_a_500_without_sql(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with temporary_database(backend, tmp_path) as url:
        engine = sa.create_engine(url)
        table = sa.Table(
            "PARTS",
            sa.MetaData(),
            sa.Column("PART_NO", sa.Integer, primary_key=True),
            sa.Column("NOTE", sa.String(20)),
        )
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(table.insert(), [{"PART_NO": 1, "NOTE": "bolt"}])
        app = create_app(parse_config(MAPPING.format(url=url)), no_auth=True)
        client = app.test_client()
        try:
            assert client.get("/v1/parts").status_code == 200
            # The legacy schema changes under a running wrapper: a column goes away.
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "ALTER TABLE PARTS DROP COLUMN NOTE"
                    if backend == "mariadb"
                    else 'ALTER TABLE "PARTS" DROP COLUMN "NOTE"'
                )
            with caplog.at_level(logging.ERROR, logger="wrapper.problems"):
                response = client.get("/v1/parts")
            body = response.get_data(as_text=True)
            assert response.status_code == 500
            assert response.mimetype == "application/problem+json"
            assert response.get_json()["type"] == "/problems/legacy-rejected"
            assert "Retry-After" not in response.headers
            assert "SELECT" not in body.upper() and "NOTE" not in body
            logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
            assert "NOTE" in logged and "SELECT" in logged.upper()
        finally:
            app.extensions["legacy_wrapper"].close()
            engine.dispose()


def test_an_unreachable_database_is_a_503_unavailable(tmp_path: Path) -> None:
    missing = tmp_path / "gone.db"
    engine = sa.create_engine(f"sqlite:///{missing}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE PARTS (PART_NO INTEGER PRIMARY KEY, NOTE TEXT)")
    engine.dispose()
    app = create_app(parse_config(MAPPING.format(url=f"sqlite:///{missing}")), no_auth=True)
    missing.unlink()
    try:
        response = app.test_client().get("/v1/parts")
        assert response.status_code == 503
        assert response.get_json()["type"] == "/problems/legacy-unavailable"
        assert response.headers["Retry-After"]
    finally:
        app.extensions["legacy_wrapper"].close()
