"""Access: row rules and hidden fields apply to lists, items and embedded relations."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from legacy_adapters.base import Condition
from wrapper.access import Access
from wrapper.problems import InvalidParameter, ResourceNotFound
from wrapper.query import parse_query


def test_rules_and_hidden_fields(app: Flask) -> None:
    state = app.extensions["legacy_wrapper"]
    orders = state.mapping.resource("v1", "orders")
    customers = state.mapping.resource("v1", "customers")
    first = state.reader.list(
        orders, parse_query(MultiDict({"limit": "1"}), orders, state.config.paging)
    )
    mine = first["data"][0]["customer_no"]
    access = Access(
        rules={
            "orders": (Condition("CUST_NO", "eq", mine.ljust(8)),),
            "customers": (Condition("CUST_NO", "eq", mine.ljust(8)),),
        },
        hidden={"orders": frozenset({"total"}), "customers": frozenset({"credit_limit"})},
    )
    view = access.view(orders)
    assert "total" not in view.by_name and "total" in orders.by_name
    page = state.reader.list(
        view,
        parse_query(MultiDict({"limit": "1000", "expand": "customer"}), view, state.config.paging),
        access,
    )
    assert page["data"] and {o["customer_no"] for o in page["data"]} == {mine}
    assert all("total" not in o for o in page["data"])
    assert all("credit_limit" not in o["customer"] for o in page["data"])
    for args in ({"total[gte]": "1"}, {"fields": "total"}):
        with pytest.raises(InvalidParameter):
            parse_query(MultiDict(args), view, state.config.paging)
    other = state.reader.list(
        orders,
        parse_query(
            MultiDict({"customer_no[ne]": mine, "limit": "1"}), orders, state.config.paging
        ),
    )["data"][0]["order_no"]
    with pytest.raises(ResourceNotFound):
        state.reader.item(view, other, None, (), access)
    customer = state.reader.item(access.view(customers), mine, None, ("orders",), access)
    assert len(customer["orders"]) == len(page["data"])
