"""Principal -> Access, pure: scopes, claims, `unless_scope`, hidden fields and
relations, row rules that follow relations (chained, lifted, refused), and the
scope keys shared caches are keyed by. Then the same callers read the in-memory
plant and see exactly their rows.

The mapping (`tests/support/memory_plant.py`): owners are visible where
`owner_id` equals the `owner` claim (unless `owners:all`); items where their
owner is (unless `items:all`); parts where their item is; `items.price` needs
`items:pricing`; dups have no rule.
"""

from __future__ import annotations

from typing import Any

import pytest

from wrapper.access import Access, RowFilter
from wrapper.auth.policy import Grants, Policy
from wrapper.auth.principal import Principal
from wrapper.problems import Forbidden, InsufficientScope
from wrapper.query import ItemQuery

from ...support import memory_plant
from ...support.memory_plant import Plant, legacy_rows

READ_ALL = "owners:read items:read parts:read dups:read"
NO_CLAIM = "the credentials carry no usable 'owner' claim, which every owners row requires"
TOO_LONG = "the 'owner' claim does not fit owners.owner_id"


@pytest.fixture(scope="module")
def plant() -> Plant:
    return memory_plant.plant()


@pytest.fixture
def policy(plant: Plant) -> Policy:
    return Policy(plant.mapping)


def caller(scopes: str = READ_ALL, subject: str = "client", **claims: Any) -> Principal:
    return Principal(subject, frozenset(scopes.split()), claims)


def grants(policy: Policy, scopes: str = READ_ALL, **claims: Any) -> Grants:
    return policy.grants(caller(scopes, **claims), "v1")


# ---------------------------------------------------------------------------- scopes

SCOPES = [
    # (scopes held, resource, operation, None or (detail, required scope))
    ("owners:read", "owners", "list", None),
    ("owners:read", "owners", "item", None),
    ("items:read", "items", "item", None),
    ("", "owners", "list", ("list on /v1/owners needs the scope owners:read", "owners:read")),
    ("items:read", "owners", "item", ("item on /v1/owners needs the scope owners:read", "owners:read")),
    ("items:pricing items:all", "items", "list", ("list on /v1/items needs the scope items:read", "items:read")),
    ("owners:read:x", "owners", "list", ("list on /v1/owners needs the scope owners:read", "owners:read")),
    (READ_ALL, "owners", "delete", ("no scope grants delete on /v1/owners", None)),
]  # fmt: skip


@pytest.mark.parametrize(("scopes", "name", "operation", "refusal"), SCOPES)
def test_an_operation_needs_its_declared_scopes(
    plant: Plant, policy: Policy, scopes: str, name: str, operation: str, refusal: tuple | None
) -> None:
    principal = caller(scopes, owner="OW01")
    resource = plant.resource(name)
    if refusal is None:
        assert isinstance(policy.authorize(principal, resource, operation), Access)
        return
    with pytest.raises(InsufficientScope) as info:
        policy.authorize(principal, resource, operation)
    detail, required = refusal
    assert info.value.detail == detail
    assert info.value.extensions["required_scope"] == required
    assert info.value.status == 403


# ---------------------------------------------------------------------------- claims

CLAIMS = [
    # (the owner claim, or absent; the owners row filter's values, or the denial)
    ("OW01", ("OW01",)),
    ("OW1", ("OW1",)),  # shorter than CHAR(4): padded when planned
    (7, ("7",)),  # a number claim compares as its text
    (["OW02", "OW01"], ("OW01", "OW02")),  # a list claim: any of its values
    (["OW01", "OW01"], ("OW01",)),
    ([7, "7"], ("7",)),
    ("absent", NO_CLAIM),
    (None, NO_CLAIM),
    ([], NO_CLAIM),
    (True, NO_CLAIM),
    ({"id": "OW01"}, NO_CLAIM),
    (["OW01", None], NO_CLAIM),
    (["OW01", ["OW02"]], NO_CLAIM),
    (["OW01", {"id": 1}], NO_CLAIM),
    ([False], NO_CLAIM),
    ("OW001", TOO_LONG),  # longer than the CHAR(4) it is compared with
    (12345, TOO_LONG),
    (["OW01", "OW0002"], TOO_LONG),
]


@pytest.mark.parametrize(("claim", "expected"), CLAIMS, ids=[repr(c) for c, _ in CLAIMS])
def test_claims_become_row_filters_or_a_refusal(
    plant: Plant, policy: Policy, claim: Any, expected: tuple | str
) -> None:
    claims = {} if claim == "absent" else {"owner": claim}
    found = grants(policy, **claims)
    owners = plant.resource("owners")
    if isinstance(expected, tuple):
        assert found.access.rows["owners"] == (RowFilter("owner_id", expected, "owner"),)
        assert found.denied == {}
        assert policy.authorize(caller(**claims), owners, "list") is found.access
        return
    # refused, and so is everything whose rows follow owners
    assert found.denied == {"owners": expected, "items": expected, "parts": expected}
    assert "owners" not in found.access.rows
    for name in ("owners", "items", "parts"):
        with pytest.raises(Forbidden) as info:
            policy.authorize(caller(**claims), plant.resource(name), "list")
        assert info.value.detail == expected
    assert isinstance(policy.authorize(caller(**claims), plant.resource("dups"), "list"), Access)


def test_other_claims_and_scopes_do_not_matter(policy: Policy) -> None:
    one = grants(policy, owner="OW01")
    assert grants(policy, owner="OW01", region="EU", sub="x") is one  # shared, not rebuilt
    assert policy.grants(caller(f"{READ_ALL} unrelated:scope", "other", owner="OW01"), "v1") is one


# ---------------------------------------------------------------------------- unless_scope and through

THROUGH = [
    # (scopes beyond READ_ALL, has the claim, owners filtered, resources following their relation, denied)
    ("", True, True, {"items", "parts"}, set()),  # parts -> items -> owners, chained
    ("owners:all", True, False, set(), set()),  # owners unfiltered: nothing to follow
    ("owners:all", False, False, set(), set()),  # and the claim is not needed
    ("items:all", True, True, set(), set()),  # items lifted, and parts with them
    ("items:all", False, False, set(), {"owners"}),  # only owners need the claim now
    ("", False, False, set(), {"owners", "items", "parts"}),  # the refusal follows the chain
    ("owners:all items:all", False, False, set(), set()),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "claim", "filtered", "through", "denied"), THROUGH)
def test_rules_through_relations_chain_lift_and_propagate_denial(
    policy: Policy, extra: str, claim: bool, filtered: bool, through: set, denied: set
) -> None:
    claims = {"owner": "OW01"} if claim else {}
    found = grants(policy, f"{READ_ALL} {extra}", **claims)
    assert ("owners" in found.access.rows) is filtered
    assert found.access.through == frozenset(through)
    assert set(found.denied) == denied
    assert set(found.access.rows) <= {"owners"}


# ---------------------------------------------------------------------------- hidden fields and relations

HIDDEN = [
    # (scopes, claim, hidden per resource)
    (f"{READ_ALL} items:pricing", True, {}),
    (READ_ALL, True, {"items": {"price"}}),
    ("owners:read items:read", True, {"items": {"price", "parts"}, "parts": {"same"}}),
    ("items:read parts:read", True, {"items": {"price", "owner"}}),  # owners unreadable
    ("items:read parts:read items:all", False, {"items": {"price", "owner"}}),  # owners refused
    ("parts:read", True, {"items": {"price", "owner"}, "owners": {"items"}, "parts": {"item"}}),
]  # fmt: skip


@pytest.mark.parametrize(("scopes", "claim", "hidden"), HIDDEN)
def test_fields_and_relations_out_of_reach_are_hidden(
    plant: Plant, policy: Policy, scopes: str, claim: bool, hidden: dict[str, set[str]]
) -> None:
    access = grants(policy, scopes, **({"owner": "OW01"} if claim else {})).access
    assert {k: set(v) for k, v in access.hidden.items()} == hidden
    for name in ("owners", "items", "parts", "dups"):
        full, view = plant.resource(name), access.view(plant.resource(name))
        gone = hidden.get(name, set())
        assert {f.name for f in view.fields} == {f.name for f in full.fields} - gone
        assert {r.name for r in view.relations} == {r.name for r in full.relations} - gone
        assert view is access.view(full)


# ---------------------------------------------------------------------------- scope keys

KEYS_EQUAL = [
    # two callers who see the same rows and fields of a resource share its key
    ("items", (READ_ALL, {"owner": "OW01"}), (f"{READ_ALL} unrelated", {"owner": "OW01"})),
    ("items", (READ_ALL, {"owner": ["OW02", "OW01"]}), (READ_ALL, {"owner": ["OW01", "OW02", "OW01"]})),
    ("owners", (READ_ALL, {"owner": 7}), (READ_ALL, {"owner": "7"})),
    ("owners", (READ_ALL, {"owner": "OW01"}), (f"{READ_ALL} items:pricing", {"owner": "OW01"})),
    ("owners", (f"{READ_ALL} owners:all", {"owner": "OW01"}), (f"{READ_ALL} owners:all", {})),
    ("items", (f"{READ_ALL} items:all", {"owner": "OW01"}), (f"{READ_ALL} items:all", {"owner": "OW02"})),
    ("dups", (READ_ALL, {"owner": "OW01"}), ("dups:read items:pricing", {})),
]  # fmt: skip

KEYS_DIFFERENT = [
    ("owners", (READ_ALL, {"owner": "OW01"}), (READ_ALL, {"owner": "OW02"})),
    ("owners", (READ_ALL, {"owner": "OW01"}), (READ_ALL, {"owner": ["OW01", "OW02"]})),
    ("owners", (READ_ALL, {"owner": "OW01"}), (f"{READ_ALL} owners:all", {"owner": "OW01"})),
    ("items", (READ_ALL, {"owner": "OW01"}), (READ_ALL, {"owner": "OW02"})),  # through owners
    ("parts", (READ_ALL, {"owner": "OW01"}), (READ_ALL, {"owner": "OW02"})),  # through two
    ("items", (READ_ALL, {"owner": "OW01"}), (f"{READ_ALL} items:pricing", {"owner": "OW01"})),
    ("items", (READ_ALL, {"owner": "OW01"}), (f"{READ_ALL} items:all", {"owner": "OW01"})),
    ("items", (f"{READ_ALL} items:all", {}), (f"{READ_ALL} items:all items:pricing", {})),
    ("parts", (READ_ALL, {"owner": "OW01"}), (f"{READ_ALL} items:all", {"owner": "OW01"})),
]  # fmt: skip


def scope_key(plant: Plant, policy: Policy, name: str, who: tuple[str, dict]) -> str:
    scopes, claims = who
    return grants(policy, scopes, **claims).access.scope_key(plant.resource(name))


@pytest.mark.parametrize(("name", "one", "other"), KEYS_EQUAL)
def test_equal_visibility_gives_equal_scope_keys(
    plant: Plant, policy: Policy, name: str, one: tuple, other: tuple
) -> None:
    assert scope_key(plant, policy, name, one) == scope_key(plant, policy, name, other)


@pytest.mark.parametrize(("name", "one", "other"), KEYS_DIFFERENT)
def test_different_visibility_gives_different_scope_keys(
    plant: Plant, policy: Policy, name: str, one: tuple, other: tuple
) -> None:
    assert scope_key(plant, policy, name, one) != scope_key(plant, policy, name, other)


def test_a_caller_limited_in_nothing_has_the_public_key(plant: Plant, policy: Policy) -> None:
    everything = f"{READ_ALL} owners:all items:all items:pricing"
    access = grants(policy, everything).access
    for name in ("owners", "items", "parts", "dups"):
        assert access.scope_key(plant.resource(name)) == ""
    assert access.private  # still credentials: never a shared public answer by default


# ---------------------------------------------------------------------------- end to end on memory


def read_ids(plant: Plant, access: Access, name: str, field: str) -> list[Any]:
    view = access.view(plant.resource(name))
    query = plant.query(name, "limit=100", view)
    page = plant.reader.page(plant.planner.plan_list(view, query, access))[0]
    assert page["next_cursor"] is None
    return [row[field] for row in page["data"]]


@pytest.mark.parametrize(
    ("scopes", "owners"),
    [
        (READ_ALL, ("OW02",)),
        (READ_ALL, ("OW02", "OW05")),
        (f"{READ_ALL} items:all", ("OW02",)),
        (f"{READ_ALL} owners:all", ("OW02",)),
    ],
)
def test_a_caller_reads_exactly_what_its_access_allows(
    plant: Plant, policy: Policy, scopes: str, owners: tuple[str, ...]
) -> None:
    principal = caller(scopes, owner=list(owners))
    access = policy.authorize(principal, plant.resource("items"), "list")
    all_owners = [r["OWNER_ID"] for r in legacy_rows("OWNERS")]
    items = legacy_rows("ITEMS")
    see_owners = all_owners if "owners:all" in scopes else list(owners)
    limited = "items:all" not in scopes and "owners:all" not in scopes
    see_items = [i["ID"] for i in items if not limited or i["OWNER_ID"] in owners]
    assert read_ids(plant, access, "owners", "owner_id") == sorted(see_owners)
    assert read_ids(plant, access, "items", "id") == sorted(see_items)
    parts = read_ids(plant, access, "parts", "item_id")
    assert sorted(set(parts)) == sorted(
        {p["ITEM_ID"] for p in legacy_rows("PARTS")} & set(see_items)
    )
    view = access.view(plant.resource("items"))
    assert "price" not in view.by_name  # no items:pricing
    other = (
        next(i["ID"] for i in items if i["ID"] not in see_items) if len(see_items) < 60 else None
    )
    if other:
        plan = plant.planner.plan_item(view, other, ItemQuery(), access)
        assert plant.source.select(plan.select) == []
