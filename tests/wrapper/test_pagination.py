"""Cursors are sealed: they reveal nothing, cannot be changed, and keep working
across restarts of a server that keeps its state database."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import uuid
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from wrapper.pagination import Cursors, next_skip
from wrapper.problems import InvalidParameter

from ..support.demo import build_demo, close_app, open_app, write_config
from ..support.memory_plant import StaticKeys
from ..support.servers import get, serving


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


# ---------------------------------------------------------------------------- pure tables


@pytest.fixture
def cursors() -> Cursors:
    return Cursors(StaticKeys())  # type: ignore[arg-type]


UTC2 = dt.timezone(dt.timedelta(hours=2))
TAGGED = [
    # (a legacy sort value, how the sealed payload carries it)
    (None, None),
    (True, True),
    (False, False),
    (0, 0),
    (-(2**63), -(2**63)),
    (2**64 - 1, 2**64 - 1),  # BIGINT UNSIGNED
    (2**64, {"i": "18446744073709551616"}),  # a NUMERIC(30) key read as an int
    (-(2**63) - 1, {"i": "-9223372036854775809"}),
    (1.5, 1.5),
    (-0.0, -0.0),
    (float("inf"), {"f": "inf"}),
    (float("-inf"), {"f": "-inf"}),
    ("", ""),
    ("OW01  ", "OW01  "),  # CHAR padding kept: the keyset compares legacy values
    ("Müller\x00\n", "Müller\x00\n"),
    (Decimal("12.30"), {"d": "12.30"}),  # exact, trailing zero kept
    (Decimal("-1E+3"), {"d": "-1E+3"}),
    (dt.date(2026, 1, 2), {"D": "2026-01-02"}),
    (dt.datetime(2026, 1, 2, 3, 4, 5, 6), {"T": "2026-01-02T03:04:05.000006"}),
    (dt.datetime(2026, 1, 2, 3, 4, tzinfo=UTC2), {"T": "2026-01-02T03:04:00+02:00"}),
    (dt.time(14, 30, 5), {"t": "14:30:05"}),
    (b"\x00\xff ", {"b": "AP8g"}),
    (bytearray(b"ab"), {"b": "YWI="}),
    (memoryview(b"ab"), {"b": "YWI="}),
    (
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        {"u": "12345678-1234-5678-1234-567812345678"},
    ),
    (dt.timedelta(days=1, seconds=7200, microseconds=5), {"s": [1, 7200, 5]}),  # MariaDB TIME 26:00
    (-dt.timedelta(hours=1), {"s": [-1, 82800, 0]}),
]


@pytest.mark.parametrize(("value", "tagged"), TAGGED, ids=[repr(v) for v, _ in TAGGED])
def test_every_value_type_is_tagged_and_comes_back_the_same(
    cursors: Cursors, value: object, tagged: object
) -> None:
    cursor = cursors.encode("print", [value, "I00001"], 3)
    assert orjson.loads(cursors.unseal(cursor)) == ["print", [tagged, "I00001"], 3]
    (back, key), skip = cursors.decode(cursor, "print", 2)
    expected = bytes(value) if isinstance(value, bytearray | memoryview) else value
    assert (back, key, skip) == (expected, "I00001", 3)
    assert type(back) is type(expected)
    if isinstance(value, dt.datetime):
        assert back.tzinfo == value.tzinfo


def test_nan_comes_back_as_nan(cursors: Cursors) -> None:
    cursor = cursors.encode("print", [float("nan")], 0)
    assert orjson.loads(cursors.unseal(cursor))[1] == [{"f": "nan"}]
    (back,), _ = cursors.decode(cursor, "print", 1)
    assert isinstance(back, float) and back != back


@pytest.mark.parametrize("value", [object(), [1], {"d": "1"}, {1, 2}, 1j])
def test_a_value_without_a_tag_is_not_put_in_a_cursor(cursors: Cursors, value: object) -> None:
    with pytest.raises(TypeError, match="cannot put a"):
        cursors.encode("print", [value], 0)


def test_the_same_page_gets_the_same_cursor(cursors: Cursors) -> None:
    one = cursors.encode("print", [Decimal("1.0"), "a"], 0)
    assert one == cursors.encode("print", [Decimal("1.0"), "a"], 0)
    assert one != cursors.encode("print", [Decimal("1.00"), "a"], 0)
    assert one != cursors.encode("print", [Decimal("1.0"), "a"], 1)
    assert one != cursors.encode("other", [Decimal("1.0"), "a"], 0)
    assert one != Cursors(StaticKeys()).encode("print", [Decimal("1.0"), "a"], 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("print_", "width", "detail"),
    [
        ("other", 2, "cursor belongs to another sort order or resource; start from the first page"),
        (
            "print",
            1,
            "cursor is not valid or has expired; use next_cursor as given, or start again",
        ),
        (
            "print",
            3,
            "cursor is not valid or has expired; use next_cursor as given, or start again",
        ),
    ],
)
def test_a_cursor_opens_only_for_its_order_and_width(
    cursors: Cursors, print_: str, width: int, detail: str
) -> None:
    cursor = cursors.encode("print", [1, "a"], 0)
    with pytest.raises(InvalidParameter) as info:
        cursors.decode(cursor, print_, width)
    assert (info.value.extensions["parameter"], info.value.detail) == ("cursor", detail)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "A",
        "AQ",
        "AQAAAAE",
        "AQAAAAEA" * 3,
        "not a cursor",
        "AQAAAAEAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "+/+/",
    ],
)
def test_text_that_is_no_sealed_cursor_is_refused(cursors: Cursors, text: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        cursors.decode(text, "print", 1)
    assert info.value.extensions["parameter"] == "cursor"


def test_another_deployments_cursor_is_refused(cursors: Cursors) -> None:
    foreign = Cursors(StaticKeys()).encode("print", [1], 0)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter):
        cursors.decode(foreign, "print", 1)


NEXT_SKIP = [
    # (keys of a page's rows in order, the cursor it was read after, its skip, next skip)
    ([(1,), (2,), (3,)], None, 0, 1),
    ([(1,), (2,), (2,)], None, 0, 2),
    ([(2,), (2,), (2,)], None, 0, 3),
    ([(2,)], None, 0, 1),
    ([(2,), (2,)], (2,), 3, 5),  # the whole page continues the previous run
    ([(2,)], (2,), 1, 2),
    ([(2,), (2,)], (1,), 3, 2),  # a new run: the earlier count is not carried
    ([(2,), (3,), (3,)], (2,), 3, 2),  # the run ends on this page
    ([(3,), (2,), (2,)], (2,), 3, 2),  # not one run, even though it ends equal
    ([(1, "X"), (1, "X")], (1, "X"), 4, 6),
    ([(1, "X"), (1, "Y")], (1, "X"), 4, 1),
    ([(None,), (None,)], (None,), 2, 4),  # NULL equals NULL here, as in the sort
    ([(1, None), (1, None)], (1, "X"), 2, 2),
]


@pytest.mark.parametrize(("keys", "after", "skip", "expected"), NEXT_SKIP)
def test_next_skip_counts_the_rows_equal_to_the_last_one(
    keys: list[tuple], after: tuple | None, skip: int, expected: int
) -> None:
    assert next_skip(keys, after, skip) == expected
