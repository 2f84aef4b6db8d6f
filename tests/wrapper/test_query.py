"""Parsing the query string: names match exactly, and refusals say why."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from wrapper.mapping.model import Resource
from wrapper.problems import InvalidParameter
from wrapper.query import parse_item_query, parse_query


def jobs(app: Flask) -> Resource:
    return app.extensions["legacy_wrapper"].mapping.resource("v1", "jobs")


def refusal(call) -> InvalidParameter:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameter) as info:
        call()
    return info.value


def test_a_relation_the_caller_may_not_expand_is_not_called_missing(app: Flask) -> None:
    full = jobs(app)
    view = full.view(frozenset({"order"}))  # what a caller without orders:read sees
    paging = app.extensions["legacy_wrapper"].config.paging
    denied = refusal(lambda: parse_query(MultiDict({"expand": "order"}), view, paging, full))
    assert denied.extensions["parameter"] == "expand"
    assert (
        denied.detail == "these credentials may not expand 'order' (relations you may expand: none)"
    )
    missing = refusal(lambda: parse_query(MultiDict({"expand": "orders"}), view, paging, full))
    assert missing.detail == "no relation 'orders' (relations: none)"
    item = refusal(lambda: parse_item_query(MultiDict({"expand": "order"}), view, full))
    assert "may not expand 'order'" in item.detail
    assert parse_query(MultiDict({"expand": "order"}), full, paging, full).expand == ("order",)


def test_parameter_names_match_exactly(app: Flask) -> None:
    resource, paging = jobs(app), app.extensions["legacy_wrapper"].config.paging
    args = MultiDict([("status", "running"), ("status\n", "held")])
    assert refusal(lambda: parse_query(args, resource, paging)).extensions["parameter"] == (
        "status\n"
    )
    for name in ("status[in]\n", "status\n[in]", " status", "status[in] "):
        problem = refusal(lambda n=name: parse_query(MultiDict({n: "held"}), resource, paging))
        assert problem.extensions["parameter"] == name


def test_a_repeated_sort_field_counts_once(app: Flask) -> None:
    resource, paging = jobs(app), app.extensions["legacy_wrapper"].config.paging
    query = parse_query(MultiDict({"sort": "due_date,-due_date,job_id"}), resource, paging)
    assert query.sort == (("due_date", False), ("job_id", False))
