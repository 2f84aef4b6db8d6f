"""The read path: the next page's link keeps the request's query string as
`urlencode` writes it, with the new cursor where the old one was (or last); pages
and items read again are planned once per caller, a cursor's while its key opens it."""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlencode

import pytest
from werkzeug.datastructures import MultiDict

from wrapper.cursor_keys import rotate
from wrapper.read import ReadPath

from ..support.demo import build_demo, close_app, open_app, write_config
from ..support.tokens import token

ARGS = [
    [],
    [("limit", "50")],
    [("cursor", "old"), ("limit", "5"), ("a b", "c&d=é/?")],
    [("status[in]", "x,y"), ("sort", "-due_date,job_id"), ("cursor", "zz"), ("fields", "")],
    [("status", "x"), ("status", "y"), ("limit", "2")],  # the first value of each name
    [("\0", "\0"), ("cursor", "%00")],
]


@pytest.mark.parametrize("pairs", ARGS)
@pytest.mark.parametrize("cursor", ["AbC-_x", "a/b+c=", "\0"])
def test_the_next_query_is_the_request_s_with_the_new_cursor(
    pairs: list[tuple[str, str]], cursor: str
) -> None:
    read = ReadPath(None, None, None)  # type: ignore[arg-type]
    args = MultiDict(pairs)
    expected = args.to_dict()
    expected["cursor"] = cursor
    for _ in range(2):  # encoded, then from the remembered shape
        assert read.next_query(args, cursor) == urlencode(expected)


@pytest.fixture
def demo_app(tmp_path):  # type: ignore[no-untyped-def]
    """The demo app on its own copy of the demo database."""
    app = open_app(write_config(tmp_path, build_demo(tmp_path)))
    yield app
    close_app(app)


def counted(monkeypatch, owner, name: str) -> list[object]:  # type: ignore[no-untyped-def]
    """Calls of `owner.name` from now on, by their second argument (a query, a key)."""
    calls: list[object] = []
    original = getattr(owner, name)

    def counting(*args):  # type: ignore[no-untyped-def]
        calls.append(args[1])
        return original(*args)

    monkeypatch.setattr(owner, name, counting)
    return calls


def test_a_polled_page_is_planned_once_per_caller(demo_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app = demo_app
    planned = counted(monkeypatch, app.extensions["legacy_wrapper"].read.planner, "plan_list")
    client = app.test_client()
    everything = client.get("/v1/orders?limit=500", headers=token(app)).get_json()["data"]
    counts = Counter(o["customer_no"] for o in everything)
    (a, _), (b, _) = counts.most_common(2)  # customers with several orders
    one = token(app, "orders:read", customer_no=a)
    two = token(app, "orders:read", customer_no=b)
    url = "/v1/orders?limit=2&sort=ordered_on"
    first = [client.get(url, headers=one).get_json() for _ in range(3)]
    assert len(planned) == 2 and first[0] == first[2]
    other = client.get(url, headers=two).get_json()
    assert len(planned) == 3  # another caller's rows: its own plan (+ the listing above)
    assert {o["customer_no"] for o in first[0]["data"]} == {a}
    assert {o["customer_no"] for o in other["data"]} == {b}
    cursor = first[0]["next_cursor"]
    following = [client.get(f"{url}&cursor={cursor}", headers=one) for _ in range(2)]
    assert [r.status_code for r in following] == [200, 200]
    assert following[0].get_json() == following[1].get_json()
    assert len(planned) == 4  # a cursor's page too, while its key opens it

    keys = app.extensions["legacy_wrapper"].read.planner.cursors.keys
    rotate(keys.store, grace=0)  # a leak: every earlier key is retired at once
    keys._load()  # as every worker does within a minute
    refused = client.get(f"{url}&cursor={cursor}", headers=one)
    assert refused.status_code == 400 and refused.get_json()["parameter"] == "cursor"
    assert len(planned) == 5  # planned again, and refused


def test_an_item_read_again_is_planned_once_per_caller(demo_app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    app = demo_app
    planned = counted(monkeypatch, app.extensions["legacy_wrapper"].read.planner, "plan_item")
    client = app.test_client()
    orders = client.get("/v1/orders?limit=500", headers=token(app)).get_json()["data"]
    mine, theirs = (
        orders[0],
        next(o for o in orders if o["customer_no"] != orders[0]["customer_no"]),
    )
    one = token(app, "orders:read", customer_no=mine["customer_no"])
    url = f"/v1/orders/{mine['order_no']}"
    got = [client.get(url, headers=one) for _ in range(3)]
    assert [r.status_code for r in got] == [200] * 3 and planned == [mine["order_no"]]
    body = got[0].get_json()
    assert body == got[2].get_json() and body.items() <= mine.items()
    assert client.get(f"{url}?fields=order_no", headers=one).get_json() == {
        "order_no": mine["order_no"]
    }
    assert len(planned) == 2  # another query string: its own plan
    hidden = client.get(f"/v1/orders/{theirs['order_no']}", headers=one)
    assert hidden.status_code == 404  # another customer's order, planned with this caller's rule
    for _ in range(2):
        assert client.get(f"/v1/orders/{theirs['order_no']}", headers=token(app)).status_code == 200
    assert len(planned) == 4  # the other caller (all orders): its own plan, once
