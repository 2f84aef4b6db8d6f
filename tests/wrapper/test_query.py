"""Parsing the query string: names match exactly, and refusals say why."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from wrapper.mapping.model import Resource
from wrapper.operators import OPERATORS
from wrapper.problems import InvalidParameter
from wrapper.query import Filter, ItemQuery, Query, parse_item_query, parse_query

from ..support import memory_plant
from ..support.memory_plant import Plant


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


def test_a_relation_of_another_version_is_named_as_such(app: Flask) -> None:
    v2 = app.extensions["legacy_wrapper"].mapping.resource("v2", "jobs")
    paging = app.extensions["legacy_wrapper"].config.paging
    other = refusal(lambda: parse_query(MultiDict({"expand": "order"}), v2, paging, v2))
    assert other.extensions["parameter"] == "expand"
    assert other.detail == "'order' is a relation of jobs in v1, not in v2 (relations here: none)"
    assert (
        "no relation 'orderz'"
        in refusal(lambda: parse_query(MultiDict({"expand": "orderz"}), v2, paging, v2)).detail
    )


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


# ---------------------------------------------------------------------------- pure tables
# Over the small in-memory plant (tests/support/memory_plant.py): no Flask, no database.
# Its paging is default_limit 10, max_limit 100.


@pytest.fixture(scope="module")
def plant() -> Plant:
    return memory_plant.plant()


VALUE_READING = [
    # (query string, the filter parse reads: field, operator, values)
    ("code=running", ("code", "eq", ("running",))),
    ("code[eq]=running", ("code", "eq", ("running",))),
    ("name=a,b", ("name", "eq", ("a,b",))),  # one value: a comma is just a comma
    ("name=", ("name", "eq", ("",))),  # the empty string is a value like any other
    ("code[ne]=held", ("code", "ne", ("held",))),
    ("qty[lt]=5", ("qty", "lt", ("5",))),
    ("qty[lte]=5", ("qty", "lte", ("5",))),
    ("qty[gt]=-5", ("qty", "gt", ("-5",))),  # text as written: the converter judges it
    ("due[gte]=2026-01-05", ("due", "gte", ("2026-01-05",))),
    ("code[in]=running,held", ("code", "in", ("running", "held"))),
    ("code[in]=running", ("code", "in", ("running",))),
    (r"id[in]=A\,B,C", ("id", "in", ("A,B", "C"))),  # \, is a literal comma
    (r"id[in]=A\\,B", ("id", "in", ("A\\,B",))),  # only \, is an escape: A\ then \,
    ("id[in]=B,A\\", ("id", "in", ("B", "A\\"))),  # a value ending in \ goes last
    ("id[in]=", ("id", "in", ("",))),  # one empty value, not an empty list
    ("id[in]=A,", ("id", "in", ("A", ""))),
    ("name[like]=*gmbh*", ("name", "like", ("*gmbh*",))),
    ("name[like]=a,b", ("name", "like", ("a,b",))),
    ("name[startswith]=Bo", ("name", "startswith", ("Bo",))),
    ("name[isnull]=true", ("name", "isnull", (True,))),
    ("name[isnull]=TRUE", ("name", "isnull", (True,))),
    ("name[isnull]=false", ("name", "isnull", (False,))),
    ("name[isnull]=False", ("name", "isnull", (False,))),
]


def test_every_operator_has_a_value_reading_case() -> None:
    assert {op for _, (_, op, _) in VALUE_READING} == set(OPERATORS)


@pytest.mark.parametrize(("args", "expected"), VALUE_READING, ids=[a for a, _ in VALUE_READING])
def test_filter_values_are_read_as_the_operator_takes_them(
    plant: Plant, args: str, expected: tuple
) -> None:
    field, op, values = expected
    parameter = args.split("=", 1)[0]
    assert plant.query("items", args).filters == (Filter(field, op, values, parameter),)


CONTROL = [
    # (query string, the Query it parses to)
    ("", Query(limit=10)),
    ("limit=1", Query(limit=1)),
    ("limit=100", Query(limit=100)),
    ("limit=007", Query(limit=7)),
    ("sort=due", Query(sort=(("due", False),), limit=10)),
    ("sort=-due,id", Query(sort=(("due", True), ("id", False)), limit=10)),
    ("sort=%2Bdue", Query(sort=(("due", False),), limit=10)),  # +due, URL-encoded
    ("sort=due,-due,id,due", Query(sort=(("due", False), ("id", False)), limit=10)),
    ("fields=name,id", Query(fields=("name", "id"), limit=10)),
    ("cursor=abc", Query(cursor="abc", limit=10)),  # opened by the plan step
    ("count=exact", Query(count="exact", limit=10)),
    ("count=true", Query(count="exact", limit=10)),
    ("count=estimate", Query(count="estimate", limit=10)),
    ("expand=owner", Query(expand=("owner",), limit=10)),
    ("expand=parts,owner,parts", Query(expand=("parts", "owner"), limit=10)),
    (
        "qty[gte]=2&code=held&sort=-qty&fields=id,qty&limit=5&expand=owner",
        Query(
            filters=(
                Filter("qty", "gte", ("2",), "qty[gte]"),
                Filter("code", "eq", ("held",), "code"),
            ),
            sort=(("qty", True),),
            fields=("id", "qty"),
            limit=5,
            expand=("owner",),
        ),
    ),
]


@pytest.mark.parametrize(("args", "expected"), CONTROL, ids=[a or "nothing" for a, _ in CONTROL])
def test_control_parameters(plant: Plant, args: str, expected: Query) -> None:
    assert plant.query("items", args) == expected


REFUSED = [
    # (resource, query string, parameter named, detail)
    # duplicates
    ("items", "code=running&code=held", "code", "'code' is given more than once; use code[in]=a,b"),
    (
        "items",
        "code[in]=held&code[in]=done",
        "code[in]",
        "'code[in]' is given more than once; use code[in]=a,b",
    ),
    ("items", "limit=1&limit=2", "limit", "'limit' is given more than once"),
    ("items", "sort=id&sort=qty", "sort", "'sort' is given more than once"),
    ("items", "fields=id,id", "fields", "a field is listed twice"),
    # unknown names
    ("items", "colour=red", "colour", "unknown parameter 'colour': no field 'colour'"),
    ("items", "Code=running", "Code", "unknown parameter 'Code'"),
    ("items", "code[]=running", "code[]", "unknown parameter 'code[]'"),
    ("items", "code[IN]=running", "code[IN]", "unknown parameter 'code[IN]'"),
    ("items", "code[in]x=running", "code[in]x", "unknown parameter 'code[in]x'"),
    ("items", "limit[eq]=5", "limit[eq]", "unknown parameter 'limit[eq]': no field 'limit'"),
    (
        "items",
        "code[between]=a",
        "code[between]",
        "operator 'between' is not available for 'code' (use one of: eq, in, isnull, ne)",
    ),
    (
        "items",
        "code[lt]=held",
        "code[lt]",
        "operator 'lt' is not available for 'code' (use one of: eq, in, isnull, ne)",
    ),
    (
        "items",
        "name[in]=a",
        "name[in]",
        "operator 'in' is not available for 'name' (use one of: eq, isnull, like, startswith)",
    ),
    (
        "parts",
        "amount=3",
        "amount",
        "field 'amount' cannot be filtered on (filterable fields: item_id, line)",
    ),
    ("items", "name[isnull]=yes", "name[isnull]", "isnull takes true or false"),
    ("items", "name[isnull]=", "name[isnull]", "isnull takes true or false"),
    ("items", "fields=colour", "fields", "no field 'colour' in items"),
    ("items", "fields=id,,name", "fields", "no field '' in items"),
    ("items", "fields=id,", "fields", "no field '' in items"),
    ("items", "sort=colour", "sort", "no field 'colour' to sort by"),
    ("items", "sort=-", "sort", "no field '' to sort by"),
    ("items", "sort=due,", "sort", "no field '' to sort by"),
    (
        "items",
        "sort=code",
        "sort",
        "field 'code' cannot be sorted on (sortable fields: id, name, qty, due)",
    ),
    ("dups", "sort=b", "sort", "field 'b' cannot be sorted on (sortable fields: a)"),
    ("items", "expand=colour", "expand", "no relation 'colour' (relations: owner, parts)"),
    ("items", "expand=owner,", "expand", "no relation '' (relations: owner, parts)"),
    ("dups", "expand=owner", "expand", "no relation 'owner' (relations: none)"),
    ("items", "count=yes", "count", "count takes exact or estimate"),
    ("items", "count=", "count", "count takes exact or estimate"),
    # empty lists
    ("items", "fields=", "fields", "fields is empty: name at least one, or leave fields out"),
    ("items", "sort=", "sort", "sort is empty: name at least one, or leave sort out"),
    ("items", "expand=", "expand", "expand is empty: name at least one, or leave expand out"),
    ("items", "cursor=", "cursor", "cursor is empty"),
    # limits
    ("items", "limit=0", "limit", "limit must be between 1 and 100"),
    ("items", "limit=101", "limit", "limit must be between 1 and 100"),
    ("items", "limit=99999999999999999999", "limit", "limit must be between 1 and 100"),
    *[
        ("items", f"limit={text}", "limit", "limit must be a whole number written with digits 0-9")
        for text in ("", "abc", "-1", "%2B5", "1_0", "%2010", "10%20", "1.0", "١٠", "１０")
    ],
]


@pytest.mark.parametrize(
    ("resource", "args", "parameter", "detail"), REFUSED, ids=[f"{r}?{a}" for r, a, _, _ in REFUSED]
)
def test_refusals_name_the_parameter_and_say_why(
    plant: Plant, resource: str, args: str, parameter: str, detail: str
) -> None:
    problem = refusal(lambda: plant.query(resource, args))
    assert problem.status == 400
    assert problem.extensions["parameter"] == parameter
    assert problem.detail == detail


def without_owner(plant: Plant) -> Resource:
    """items as a caller that may not read owners sees them."""
    return plant.resource("items").view(frozenset({"owner"}))


EXPAND_WITH_ACCESS = [
    # (query string, the caller's view hides the owner relation, parsed expand or refusal)
    ("expand=owner", False, ("owner",)),
    ("expand=parts", True, ("parts",)),
    (
        "expand=owner",
        True,
        "these credentials may not expand 'owner' (relations you may expand: parts)",
    ),
    (
        "expand=parts,owner",
        True,
        "these credentials may not expand 'owner' (relations you may expand: parts)",
    ),
    ("expand=colour", True, "no relation 'colour' (relations: parts)"),
]


@pytest.mark.parametrize(("args", "hidden", "expected"), EXPAND_WITH_ACCESS)
def test_expand_with_and_without_access(
    plant: Plant, args: str, hidden: bool, expected: tuple | str
) -> None:
    view = without_owner(plant) if hidden else plant.resource("items")
    full = plant.resource("items")
    if isinstance(expected, tuple):
        assert plant.query("items", args, view).expand == expected
        assert parse_item_query(memory_plant.as_args(args), view, full).expand == expected
        return
    for parse in (
        lambda: plant.query("items", args, view),
        lambda: parse_item_query(memory_plant.as_args(args), view, full),
    ):
        problem = refusal(parse)
        assert (problem.extensions["parameter"], problem.detail) == ("expand", expected)


HIDDEN_FIELDS = [
    # a caller without the scopes of price and due: they do not exist for it
    ("price=1", "price", "unknown parameter 'price': no field 'price'"),
    ("due[gte]=2026-01-01", "due[gte]", "unknown parameter 'due[gte]': no field 'due'"),
    ("sort=due", "sort", "no field 'due' to sort by"),
    ("fields=id,price", "fields", "no field 'price' in items"),
]


@pytest.mark.parametrize(("args", "parameter", "detail"), HIDDEN_FIELDS)
def test_a_hidden_field_is_unknown_to_filters_sorts_and_fields(
    plant: Plant, args: str, parameter: str, detail: str
) -> None:
    view = plant.resource("items").view(frozenset({"price", "due"}))
    problem = refusal(lambda: plant.query("items", args, view))
    assert (problem.extensions["parameter"], problem.detail) == (parameter, detail)
    plant.query("items", args)  # what the whole resource accepts


ITEM_QUERIES = [
    # (query string, ItemQuery or (parameter, detail))
    ("", ItemQuery()),
    ("fields=name,id", ItemQuery(fields=("name", "id"))),
    ("expand=owner,parts,owner", ItemQuery(expand=("owner", "parts"))),
    ("fields=id&expand=parts", ItemQuery(fields=("id",), expand=("parts",))),
    ("limit=5", ("limit", "unknown parameter 'limit'; items take fields, expand")),
    ("sort=id", ("sort", "unknown parameter 'sort'; items take fields, expand")),
    ("cursor=x", ("cursor", "unknown parameter 'cursor'; items take fields, expand")),
    ("code=running", ("code", "unknown parameter 'code'; items take fields, expand")),
    ("fields=id&fields=name", ("fields", "'fields' is given more than once")),
    ("expand=owner&expand=owner", ("expand", "'expand' is given more than once")),
    ("fields=", ("fields", "fields is empty: name at least one, or leave fields out")),
    ("expand=", ("expand", "expand is empty: name at least one, or leave expand out")),
    ("fields=id,id", ("fields", "a field is listed twice")),
]


@pytest.mark.parametrize(
    ("args", "expected"), ITEM_QUERIES, ids=[a or "nothing" for a, _ in ITEM_QUERIES]
)
def test_items_take_fields_and_expand_only(plant: Plant, args: str, expected: object) -> None:
    items = plant.resource("items")
    parse = lambda: parse_item_query(memory_plant.as_args(args), items, items)  # noqa: E731
    if isinstance(expected, ItemQuery):
        assert parse() == expected
    else:
        problem = refusal(parse)
        assert (problem.extensions["parameter"], problem.detail) == expected
