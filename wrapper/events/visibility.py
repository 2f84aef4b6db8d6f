"""What each subscriber receives of an event: what its owner could read.

A subscription stores its owner's credentials as they were when it was
created or last updated (`owner_grant`: the scopes and the claims that row
rules name, nothing else of the token); for every event the owner's `Access`
is rebuilt from them by the same policy that serves the API
(`wrapper/auth/policy.py`). Scopes or claims taken from a client later reach
its subscriptions when the owner next updates them (or deletes them).

For an event on a resource of the subscription's version:

- the owner must hold the resource's `list` scopes and satisfy its row rules'
  claims, else it receives nothing;
- a row its row rules admit is sent without the fields and relations its
  scopes hide, and with the changed fields it may see (an update that changed
  only hidden fields is not sent at all);
- an update whose row the rules admitted before the change (`event.previous`)
  but not after arrives as `<resource>.deleted` with the key fields;
- a row never visible to it sends nothing; nor does an update that left the
  row outside its view when the event does not tell what it was before.

A rule that follows a relation (`rows: {through: order}`) cannot be checked on
the row alone (an order line does not carry its customer), and checking it
would mean a legacy query per event and subscriber. Such subscriptions are
refused when created (`check`); were one to exist (the mapping changed), its
events for that resource are not sent.

The optional filter (`matching.parse_filter`) selects among the rows the owner
may see, by the row after the change; a deletion, which carries no row, is
checked on the fields it carries (its key and what the row rules compare).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wrapper.access import EVERYTHING, Access
from wrapper.auth.policy import Policy
from wrapper.auth.principal import Principal
from wrapper.events.envelope import ACTIONS, Event
from wrapper.events.errors import InvalidSubscription
from wrapper.events.matching import Condition, admits, modern_values, parse_filter
from wrapper.events.outbox import Decision, Send, SendDeletion
from wrapper.events.subscriptions import Subscription, type_matches
from wrapper.lru import LRU
from wrapper.mapping.model import Mapping, Resource, VersionMapping
from wrapper.problems import Forbidden, InsufficientScope

READ_OPERATION = "list"  # an event is read like a row of the list


def grant_of(principal: Principal | None, policy: Policy) -> dict[str, Any] | None:
    """What a subscription keeps of its owner's credentials (None: sees every row)."""
    if principal is None:
        return None
    claims = {n: principal.claims[n] for n in policy.claim_names if n in principal.claims}
    return {"scopes": sorted(principal.scopes), "claims": claims}


def owner_principal(subscription: Subscription) -> Principal | None:
    grant = subscription.owner_grant
    if grant is None:
        return None
    scopes = frozenset(grant.get("scopes", ()))
    return Principal(subscription.owner, scopes, dict(grant.get("claims", {})))


@dataclass(frozen=True)
class Sight:
    """What one owner sees of one resource."""

    rules: tuple[Condition, ...]  # its row rules
    wanted: tuple[Condition, ...]  # the subscription's filter
    hidden: frozenset[str]
    key: tuple[str, ...]

    def strip(self, data: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in data.items() if k not in self.hidden}

    def shows(self, row: dict[str, Any]) -> bool:
        return admits(self.rules, row) and admits(self.wanted, row)

    def shows_deleted(self, row: dict[str, Any]) -> bool:
        """A deletion carries the key and what the row rules compare, not the fields
        a filter names: the rules decide; the filter only on the fields it carries
        (dropping it would leave the subscriber a row that no longer exists)."""
        carried = [c for c in self.wanted if c.field in row]
        return admits(self.rules, row) and admits(carried, row)


class Visibility:
    """`decide` for `outbox.dispatch` and `outbox.replay`; `check` for the API."""

    def __init__(self, mapping: Mapping, policy: Policy | None = None) -> None:
        self.mapping = mapping
        self.policy = policy or Policy(mapping)
        self._sights: LRU[tuple[Any, ...], tuple[Sight | None]] = LRU(4096)

    # ------------------------------------------------------------ per event

    def decide(self, subscription: Subscription, event: Event) -> Decision:
        resource = self.mapping.resource(event.version, event.resource)
        data = event.data
        if resource is None or not isinstance(data, dict):
            return None
        sight = self.sight(subscription, resource)
        if sight is None:
            return None
        action = event.type.rpartition(".")[2]
        before = None if event.previous is None else {**data, **event.previous}
        if action == "deleted":
            return Send(sight.strip(data)) if sight.shows_deleted(before or data) else None
        if sight.shows(data):
            changed = tuple(f for f in event.changed_fields if f not in sight.hidden)
            if action == "updated" and event.changed_fields and not changed:
                return None  # only what it may not see changed
            return Send(sight.strip(data), changed)
        if action == "updated" and before is not None and sight.shows(before):
            return SendDeletion({k: data[k] for k in sight.key if k in data})
        return None

    def sight(self, subscription: Subscription, resource: Resource) -> Sight | None:
        """What the subscription's owner sees of ``resource``; None: nothing."""
        key = (
            resource.version,
            resource.name,
            repr(subscription.owner_grant),
            subscription.filter,
        )
        found = self._sights.get(key)
        if found is None:
            found = self._sights.put(key, (self._sight(subscription, resource),))
        return found[0]

    def _sight(self, subscription: Subscription, resource: Resource) -> Sight | None:
        access = self._access(owner_principal(subscription), resource)
        if access is None or access.follows(resource):
            return None
        try:
            wanted = parse_filter(subscription.filter, access.view(resource))
        except InvalidSubscription:
            return None  # the mapping changed since the filter was accepted
        rules = tuple(
            Condition(f.field, modern_values(resource.by_name[f.field], f.values))
            for f in access.filters(resource)
        )
        hidden = access.hidden.get(resource.name, frozenset())
        return Sight(rules, wanted, hidden, resource.key)

    def _access(self, principal: Principal | None, resource: Resource) -> Access | None:
        if principal is None:
            return EVERYTHING
        needed = resource.scopes.get(READ_OPERATION)
        if not needed or not principal.scopes.issuperset(needed):
            return None
        grants = self.policy.grants(principal, resource.version)
        if resource.name in grants.denied:
            return None
        return grants.access

    # ------------------------------------------------------------ at creation

    def check(
        self,
        principal: Principal | None,
        version: str,
        patterns: Sequence[str],
        filter_text: str | None,
    ) -> None:
        """Refuses event types the owner may not read or that name nothing in the
        version, resources whose rows it sees through a relation, and a filter
        that does not fit every resource the types name."""
        mapping = self.mapping.versions[version]
        readable: list[Resource] = []
        for resource, explicit in matched_resources(mapping, patterns):
            access = self._access_or_refuse(principal, resource, explicit)
            if access is None:
                continue
            if access.follows(resource):
                through = resource.through.relation if resource.through else "a relation"
                raise InvalidSubscription(
                    "event_types",
                    f"you see {resource.name} rows through their {through}, which an event "
                    f"does not carry: subscribe without {resource.name} (name the resources, "
                    "e.g. orders.*)",
                )
            parse_filter(filter_text, access.view(resource))
            readable.append(resource)
        if not readable:
            raise InvalidSubscription("event_types", "they name no resource you may read")

    def _access_or_refuse(
        self, principal: Principal | None, resource: Resource, explicit: bool
    ) -> Access | None:
        """The owner's access; a resource named outright that it may not read is
        refused (403), one matched by a wildcard left out (None)."""
        if principal is None:
            return EVERYTHING
        needed = resource.scopes.get(READ_OPERATION, ())
        if not needed or not principal.scopes.issuperset(needed):
            if not explicit:
                return None
            raise InsufficientScope(
                f"events of {resource.name} need the scope {' '.join(needed)}", needed
            )
        grants = self.policy.grants(principal, resource.version)
        reason = grants.denied.get(resource.name)
        if reason is not None:
            if not explicit:
                return None
            raise Forbidden(reason)
        return grants.access


def matched_resources(
    version: VersionMapping, patterns: Sequence[str]
) -> list[tuple[Resource, bool]]:
    """The resources the patterns name, each with whether a pattern names it outright;
    `InvalidSubscription` for a pattern that is not `*`, `<resource>.<action>` or
    names what the version does not have."""
    found: dict[str, bool] = {}
    for pattern in patterns:
        parts = pattern.split(".")
        if pattern != "*" and len(parts) != 2:
            raise InvalidSubscription(
                "event_types", f"{pattern!r}: write <resource>.<action>, with * for any"
            )
        name, action = [*parts, "*"][:2]
        if action != "*" and action not in ACTIONS:
            raise InvalidSubscription(
                "event_types", f"{pattern!r}: the actions are {', '.join(ACTIONS)}"
            )
        if name != "*" and name not in version.resources:
            known = ", ".join(sorted(version.resources))
            raise InvalidSubscription(
                "event_types", f"{pattern!r}: {version.name} has no resource {name} ({known})"
            )
        for resource in version.resources.values():
            if type_matches(f"{name}.*", f"{resource.name}.created"):
                found[resource.name] = found.get(resource.name, False) or name != "*"
    return [(version.resources[n], explicit) for n, explicit in found.items()]
