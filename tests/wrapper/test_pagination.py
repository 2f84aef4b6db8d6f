"""Cursors are sealed: they reveal nothing, cannot be changed, and keep working
across restarts of a server that keeps its state database."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from ..authed import build_demo, close_app, open_app, write_config
from ..servers import get, serving


def raw(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def text(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def page(client: FlaskClient, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def refused(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 400, (url, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["parameter"] == "cursor"
    return response.get_json()["detail"]


def test_keyless_cursor_reveals_no_column_value(client: FlaskClient) -> None:
    # A keyless table pages over every column of the last row.
    body = page(client, "/v1/activity_log?limit=1")
    row, cursor = body["data"][0], body["next_cursor"]
    sealed = raw(cursor)
    legacy_forms = [
        row["logged_on"].replace("-", ""),  # LOG_DT as stored
        row["logged_at"].replace(":", "").lstrip("0"),  # LOG_TM
        row["user_id"],
        row["message"][:12],
    ]
    for value in legacy_forms:
        assert value.encode() not in sealed, value
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(sealed)
    assert len(page(client, f"/v1/activity_log?limit=1&cursor={cursor}")["data"]) == 1


def test_every_changed_byte_is_refused(client: FlaskClient) -> None:
    cursor = page(client, "/v1/jobs?limit=2")["next_cursor"]
    sealed = raw(cursor)
    for i in range(len(sealed)):
        forged = sealed[:i] + bytes([sealed[i] ^ 1]) + sealed[i + 1 :]
        refused(client, f"/v1/jobs?limit=2&cursor={text(forged)}")
    for forged in (sealed[:-1], sealed[:20], sealed + b"\0", b"\x02" + sealed[1:]):
        refused(client, f"/v1/jobs?limit=2&cursor={text(forged)}")
    refused(client, f"/v1/jobs?limit=2&cursor={cursor}.")  # not base64url
    assert page(client, f"/v1/jobs?limit=2&cursor={cursor}")["data"]


def test_cursor_of_another_resource_or_sort_is_refused(client: FlaskClient) -> None:
    cursor = page(client, "/v1/jobs?limit=2")["next_cursor"]
    for url in ("/v2/jobs?limit=2", "/v1/jobs?limit=2&sort=-due_date", "/v1/orders?limit=2"):
        detail = refused(client, f"{url}&cursor={cursor}")
        assert "another sort order or resource" in detail or "not valid" in detail


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("restart")
    return folder, build_demo(folder)


def test_cursor_survives_a_restart_with_the_same_state(demo_folder: tuple[Path, str]) -> None:
    folder, url = demo_folder
    config = write_config(folder, url, auth=False)  # no auth: the state database still exists
    first = open_app(config, no_auth=True)
    try:
        client = first.test_client()
        cursor = page(client, "/v1/activity_log?limit=3")["next_cursor"]
        second_page = page(client, f"/v1/activity_log?limit=3&cursor={cursor}")
    finally:
        close_app(first)
    assert (folder / "wrapper-state.db").is_file()
    again = open_app(config, no_auth=True)
    try:
        # the same page, and the same cursor to the next (sealing is deterministic)
        assert page(again.test_client(), f"/v1/activity_log?limit=3&cursor={cursor}") == second_page
    finally:
        close_app(again)
    # Another deployment (another state database) cannot open it.
    other = folder / "other"
    other.mkdir()
    stranger = open_app(write_config(other, url, auth=False), no_auth=True)
    try:
        refused(stranger.test_client(), f"/v1/activity_log?limit=3&cursor={cursor}")
    finally:
        close_app(stranger)


@pytest.mark.slow
def test_every_worker_opens_every_cursor_and_a_restart_keeps_them(
    demo_folder: tuple[Path, str],
) -> None:
    folder, url = demo_folder
    served = folder / "served"
    served.mkdir()
    config = write_config(served, url, auth=False)
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    rows, cursors = 0, []
    with serving(config, "--no-auth", "--workers", "3", env=env) as (base, _):
        path = "/v1/activity_log?limit=25"
        body = json.loads(get(f"{base}{path}")[1])
        rows += len(body["data"])
        while body["next_cursor"]:  # the connections land on whichever worker is free
            cursors.append(body["next_cursor"])
            status, raw_body = get(f"{base}{path}&cursor={body['next_cursor']}")
            assert status == 200, raw_body
            body = json.loads(raw_body)
            rows += len(body["data"])
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert rows == conn.execute(sa.text('SELECT COUNT(*) FROM "ACTLOG"')).scalar()
    engine.dispose()
    with serving(config, "--no-auth", "--workers", "2", env=env) as (base, _):
        for cursor in cursors[:5]:
            assert get(f"{base}/v1/activity_log?limit=25&cursor={cursor}")[0] == 200
