"""Access: modern row filters and hidden fields apply to lists, items and embedded
relations, and a row rule can follow a relation (a semi-join in the legacy SQL)."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from wrapper.access import EVERYTHING, Access
from wrapper.auth.policy import Policy
from wrapper.auth.principal import Principal
from wrapper.problems import InvalidParameter, ResourceNotFound
from wrapper.query import parse_query


def read_list(state, name: str, access: Access, **args: str) -> dict:
    resource = state.mapping.resource("v1", name)
    body, _ = state.read.list(resource, access, MultiDict(args), "", f"/v1/{name}")
    return body


def read_item(state, name: str, access: Access, key: str, **args: str) -> dict:
    resource = state.mapping.resource("v1", name)
    body, _ = state.read.item(resource, access, key, MultiDict(args))
    return body


def portal(state, customer_no: str) -> Access:
    """What the demo's customer portal may see: its own orders, no prices."""
    caller = Principal(
        "portal",
        frozenset({"orders:read", "customers:read", "order_lines:read"}),
        {"customer_no": customer_no},
    )
    return Policy(state.mapping).grants(caller, "v1").access


def test_rules_and_hidden_fields(app: Flask) -> None:
    state = app.extensions["legacy_wrapper"]
    mine = read_list(state, "orders", EVERYTHING, limit="1")["data"][0]["customer_no"]
    access = portal(state, mine)
    orders = state.mapping.resource("v1", "orders")
    view = access.view(orders)
    assert "total" not in view.by_name and "total" in orders.by_name
    page = read_list(state, "orders", access, limit="1000", expand="customer")
    assert page["data"] and {o["customer_no"] for o in page["data"]} == {mine}
    assert all("total" not in o for o in page["data"])
    assert all("credit_limit" not in o["customer"] for o in page["data"])
    for args in ({"total[gte]": "1"}, {"fields": "total"}):
        with pytest.raises(InvalidParameter):
            parse_query(MultiDict(args), view, state.config.paging)
    theirs = read_list(state, "orders", EVERYTHING, limit="1", **{"customer_no[ne]": mine})
    theirs = theirs["data"][0]["order_no"]
    with pytest.raises(ResourceNotFound):
        read_item(state, "orders", access, theirs)
    customer = read_item(state, "customers", access, mine, expand="orders")
    assert len(customer["orders"]) == len(page["data"])


def test_a_row_rule_follows_a_relation(app: Flask) -> None:
    """Order lines have no customer column: the portal sees the lines of its own
    orders, in lists, items, `expand` and across cursors, and no others."""
    state = app.extensions["legacy_wrapper"]
    mine = read_list(state, "orders", EVERYTHING, limit="1")["data"][0]["customer_no"]
    access = portal(state, mine)
    my_orders = {o["order_no"] for o in read_list(state, "orders", access, limit="1000")["data"]}
    all_lines = read_list(state, "order_lines", EVERYTHING, limit="1000")["data"]
    expected = [
        (line["order_no"], line["line_no"]) for line in all_lines if line["order_no"] in my_orders
    ]
    assert expected and len(expected) < len(all_lines)
    walked, cursor = [], None
    while True:
        args = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = read_list(state, "order_lines", access, **args)
        walked += [(line["order_no"], line["line_no"]) for line in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(walked) == sorted(expected)
    order_no, line_no = expected[0]
    assert read_item(state, "order_lines", access, f"{order_no},{line_no}")["order_no"] == order_no
    theirs = next(line for line in all_lines if line["order_no"] not in my_orders)
    with pytest.raises(ResourceNotFound):
        read_item(state, "order_lines", access, f"{theirs['order_no']},{theirs['line_no']}")
    order = read_item(state, "orders", access, order_no, expand="lines")
    assert {line["line_no"] for line in order["lines"]} == {n for o, n in expected if o == order_no}
