"""From a caller (scopes and claims) to what it may see: scope checks and an `Access`.

Default deny: an operation without declared scopes is reachable by no token.
Row rules (`rows: {claim: customer_no}` on a field) become legacy conditions
through the field's converter, exactly like a filter; a caller without the
claim a rule needs is refused (403), never shown everything. Fields needing a
scope the caller lacks are hidden, and so are relations to resources it may
not read, so they can neither be selected, filtered, sorted nor embedded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from legacy_adapters.base import Condition
from wrapper.access import Access
from wrapper.auth.principal import Principal
from wrapper.mapping.model import Mapping, Resource, VersionMapping
from wrapper.problems import Forbidden, InsufficientScope, InvalidParameter
from wrapper.query import Filter
from wrapper.translate import translate_filter

EMBED_OPERATION = "list"  # embedding a relation needs the target's list scopes


@dataclass(frozen=True)
class Grants:
    """What one caller may see of one version: an Access plus the resources
    whose row rules it cannot satisfy (and why)."""

    access: Access
    denied: dict[str, str]


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return repr(sorted(value.items()))
    return value


class Policy:
    def __init__(self, mapping: Mapping, *, cache_size: int = 10_000) -> None:
        self.mapping = mapping
        self.claim_names = sorted(
            {
                f.rows.claim
                for v in mapping.versions.values()
                for r in v.resources.values()
                for f in r.fields
                if f.rows
            }
        )
        self.cache_size = cache_size
        self._cache: dict[tuple[Any, ...], Grants] = {}
        self._lock = threading.Lock()

    def authorize(self, principal: Principal, resource: Resource, operation: str) -> Access:
        required = resource.scopes.get(operation, ())
        if not required:
            raise InsufficientScope(
                f"no scope grants {operation} on /{resource.version}/{resource.name}", ()
            )
        if not principal.scopes.issuperset(required):
            raise InsufficientScope(
                f"{operation} on /{resource.version}/{resource.name} needs the scope "
                + " ".join(required),
                required,
            )
        grants = self.grants(principal, resource.version)
        reason = grants.denied.get(resource.name)
        if reason is not None:
            raise Forbidden(reason)
        return grants.access

    def grants(self, principal: Principal, version: str) -> Grants:
        claims = principal.claims
        key = (
            version,
            principal.subject,
            principal.scopes,
            tuple(_freeze(claims.get(n)) for n in self.claim_names),
        )
        found = self._cache.get(key)
        if found is None:
            found = self._build(principal, self.mapping.versions[version])
            with self._lock:
                if len(self._cache) >= self.cache_size:
                    self._cache.clear()
                self._cache[key] = found
        return found

    def _build(self, principal: Principal, version: VersionMapping) -> Grants:
        scopes = principal.scopes
        rules: dict[str, tuple[Condition, ...]] = {}
        denied: dict[str, str] = {}
        for res in version.resources.values():
            conditions, reason = _row_conditions(res, principal)
            if reason:
                denied[res.name] = reason
            elif conditions:
                rules[res.name] = conditions

        def readable(target: Resource) -> bool:
            needed = target.scopes.get(EMBED_OPERATION)
            return bool(needed) and scopes.issuperset(needed) and target.name not in denied

        hidden: dict[str, frozenset[str]] = {}
        for res in version.resources.values():
            names = {f.name for f in res.fields if f.scope and f.scope not in scopes}
            names |= {r.name for r in res.relations if not readable(version.resources[r.target])}
            if names:
                hidden[res.name] = frozenset(names)
        return Grants(
            Access(rules=rules, hidden=hidden, identity=principal.subject, scopes=principal.scopes),
            denied,
        )


def _row_conditions(res: Resource, principal: Principal) -> tuple[tuple[Condition, ...], str]:
    conditions: list[Condition] = []
    for field in res.fields:
        rule = field.rows
        if rule is None or (rule.unless_scope and rule.unless_scope in principal.scopes):
            continue
        value = principal.claims.get(rule.claim)
        values = value if isinstance(value, list) else [value]
        if not values or any(v is None or isinstance(v, (dict, list, bool)) for v in values):
            return (), (
                f"the credentials carry no usable {rule.claim!r} claim, "
                f"which every {res.name} row requires"
            )
        texts = tuple(str(v) for v in values)
        op = "eq" if len(texts) == 1 else "in"
        try:
            conditions += translate_filter(res, Filter(field.name, op, texts, rule.claim))
        except InvalidParameter:
            return (), f"the {rule.claim!r} claim does not fit {res.name}.{field.name}"
    return tuple(conditions), ""
