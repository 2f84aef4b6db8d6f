"""Conditional requests: strong ETags on items and lists, If-None-Match -> 304."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from wrapper.conditional import etag_matches, make_entity

from .test_caching import cached_app, counted  # noqa: F401  (fixture)


def test_etag_is_strong_and_follows_the_bytes() -> None:
    a, b = make_entity(b'{"a":1}'), make_entity(b'{"a":2}')
    assert a.etag.startswith('"') and a.etag.endswith('"') and a.etag != b.etag
    assert make_entity(b'{"a":1}').etag == a.etag
    assert etag_matches(a.etag, a.etag)
    assert etag_matches(f'"x", W/{a.etag}', a.etag)  # If-None-Match compares weakly
    assert etag_matches("*", a.etag)
    assert not etag_matches(b.etag, a.etag) and not etag_matches(None, a.etag)


@pytest.mark.parametrize("url", ["/v1/customers?limit=3", "/v1/orders?limit=3", "/v1/jobs?limit=2"])
def test_if_none_match_answers_304_without_a_body(cached_app: Flask, url: str) -> None:  # noqa: F811
    client = cached_app.test_client()
    first = client.get(url)
    etag = first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert again.headers.get("Cache-Control") == first.headers.get("Cache-Control")
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    item_url = url.split("?")[0] + "/" + str(next(iter(first.get_json()["data"][0].values())))
    item = client.get(item_url)
    assert item.status_code == 200 and item.headers["ETag"]
    assert client.get(item_url, headers={"If-None-Match": item.headers["ETag"]}).status_code == 304


def test_a_cached_revalidation_costs_no_legacy_query(cached_app: Flask) -> None:  # noqa: F811
    client = cached_app.test_client()
    etag = client.get("/v1/orders?limit=7").headers["ETag"]
    with counted(cached_app) as statements:
        assert client.get("/v1/orders?limit=7", headers={"If-None-Match": etag}).status_code == 304
    assert statements == []
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "lw_not_modified_total 1.0" in metrics


def test_the_etag_changes_when_the_legacy_data_changes(
    client: FlaskClient, legacy: sa.Engine
) -> None:
    url = "/v1/codes?limit=1000"
    before = client.get(url).headers["ETag"]
    assert client.get(url, headers={"If-None-Match": before}).status_code == 304
    table = sa.Table("CODETBL", sa.MetaData(), autoload_with=legacy)
    with legacy.begin() as conn:
        conn.execute(table.insert().values(TBL_ID="ZZ", CODE="ETAG", DESCR="etag test"))
    try:
        after = client.get(url, headers={"If-None-Match": before})
        assert after.status_code == 200 and after.headers["ETag"] != before
    finally:
        with legacy.begin() as conn:
            conn.execute(table.delete().where(table.c.CODE == "ETAG"))
