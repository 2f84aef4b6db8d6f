"""Protecting the legacy database: the bulkhead and the statement timeout, over HTTP,
on every backend."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from flask import Flask

from wrapper.app import create_app
from wrapper.config import parse_config
from wrapper.demo import MAPPING

from ..support.demo import demo_config


@pytest.fixture(scope="module")
def narrow_app(demo_url: str):  # type: ignore[no-untyped-def]
    mapping = MAPPING.read_text(encoding="utf-8").replace(
        "  statement_timeout: 5\n",
        "  statement_timeout: 5\n  max_concurrent: 1\n  queue_timeout: 0.2\n",
    )
    app = create_app(demo_config(demo_url, mapping), no_auth=True)
    yield app
    app.extensions["legacy_wrapper"].close()


def test_a_full_bulkhead_answers_503_with_retry_after_and_recovers(narrow_app: Flask) -> None:
    client = narrow_app.test_client()
    source = narrow_app.extensions["legacy_wrapper"].source
    assert client.get("/v1/jobs?limit=1").status_code == 200
    with source._slot("held by the test"):  # the only slot is busy
        start = time.monotonic()
        response = client.get("/v1/jobs?limit=1")
        assert time.monotonic() - start < 3
        assert response.status_code == 503
        assert response.mimetype == "application/problem+json"
        assert response.headers["Retry-After"] == "1"
        assert response.get_json()["type"] == "/problems/legacy-busy"
        assert client.get("/readyz").status_code == 200  # busy is not down
    assert client.get("/v1/jobs?limit=1").status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "lw_bulkhead_rejections_total 1.0" in metrics


def _create_slow_view(url: str) -> None:
    """A legacy view that takes minutes: a count over a 10^9-row cross join."""
    engine = sa.create_engine(url)
    table = sa.Table("DIGITS", sa.MetaData(), sa.Column("V", sa.Integer, primary_key=True))
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(table.insert(), [{"V": i} for i in range(1, 1001)])
        q = conn.dialect.identifier_preparer.quote_identifier
        conn.exec_driver_sql(
            f"CREATE VIEW {q('SLOWCOUNT')} AS SELECT COUNT(*) AS {q('N')} "
            f"FROM {q('DIGITS')} a, {q('DIGITS')} b, {q('DIGITS')} c"
        )
    engine.dispose()


SLOW_MAPPING = """
source: {{url: "{url}", statement_timeout: 1}}
versions:
  v1:
    resources:
      slow: {{table: SLOWCOUNT, fields: {{n: N}}}}
"""


def test_a_slow_legacy_query_is_cut_by_the_statement_timeout(fresh_url: str) -> None:
    _create_slow_view(fresh_url)

    app = create_app(parse_config(SLOW_MAPPING.format(url=fresh_url)), no_auth=True)
    try:
        start = time.monotonic()
        response = app.test_client().get("/v1/slow")
        elapsed = time.monotonic() - start
    finally:
        app.extensions["legacy_wrapper"].close()
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"]
    assert response.get_json()["detail"] == "the legacy database did not answer in time"
    assert response.get_json()["type"] == "/problems/legacy-timeout"
    assert 0.9 < elapsed < 10
