"""Row rules and filters on rendered rows mean what they mean in SQL: values go
through the field's converter, `ne` is not true of a missing value."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask

from wrapper.events.errors import InvalidSubscription
from wrapper.events.matching import Condition, modern_values, parse_filter


@pytest.fixture
def orders(hooks_app: Flask):
    return hooks_app.extensions["legacy_wrapper"].mapping.resource("v1", "orders")


def test_values_are_compared_as_rendered(orders) -> None:
    assert modern_values(orders.by_name["rush"], ["true", "false"]) == (True, False)
    assert modern_values(orders.by_name["customer_no"], ["C0001005"]) == ("C0001005",)
    assert modern_values(orders.by_name["ordered_on"], ["2026-01-02"]) == ("2026-01-02",)
    assert modern_values(orders.by_name["status"], ["shipped"]) == ("shipped",)
    assert modern_values(orders.by_name["total"], ["5"]) == (Decimal("5.00"),)


def test_conditions_follow_sql(orders) -> None:
    (rush,) = parse_filter("rush=true", orders)
    assert rush.admits({"rush": True}) and not rush.admits({"rush": False})
    (not_open,) = parse_filter("status[ne]=open", orders)
    assert not_open.admits({"status": "shipped"})
    assert not not_open.admits({"status": "open"})
    assert not not_open.admits({"status": None}) and not not_open.admits({})
    total = Condition("total", modern_values(orders.by_name["total"], ["5"]))
    assert total.admits({"total": Decimal("5.00")}) and total.admits({"total": 5})


@pytest.mark.parametrize(
    "text, says",
    [("Status=open", "field[op]"), ("colour=red", "no field"), ("status[like]=o*", "eq, ne, in"),
     ("rush=maybe", "rush"), ("a=1&&", "query string")],
)  # fmt: skip
def test_bad_filters_are_refused(orders, text: str, says: str) -> None:
    with pytest.raises(InvalidSubscription, match="filter") as err:
        parse_filter(text, orders)
    assert says in str(err.value)
