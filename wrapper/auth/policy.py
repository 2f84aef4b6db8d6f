"""From a caller (scopes and claims) to what it may see: scope checks and an `Access`.

Default deny: an operation without declared scopes is reachable by no token.
Row rules stay modern: `rows: {claim: customer_no}` on a field becomes a
`RowFilter` over that field with the claim's values, and `rows: {through:
order}` on a resource limits it to rows whose related order is visible; the
plan step translates both like any filter. A caller without the claim a rule
needs (or with a claim value the field cannot hold) is refused (403), never
shown everything. Fields needing a scope the caller lacks are hidden, and so
are relations to resources it may not read, so they can neither be selected,
filtered, sorted nor embedded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wrapper.access import Access, RowFilter
from wrapper.auth.principal import Principal
from wrapper.lru import LRU
from wrapper.mapping.converters import ConversionError
from wrapper.mapping.model import Mapping, Resource, VersionMapping
from wrapper.problems import Forbidden, InsufficientScope

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
        self.field_scopes = sorted(
            {
                s
                for v in mapping.versions.values()
                for r in v.resources.values()
                for s in (
                    *(f.scope for f in r.fields if f.scope),
                    *(f.rows.unless_scope for f in r.fields if f.rows and f.rows.unless_scope),
                    *((r.through.unless_scope,) if r.through and r.through.unless_scope else ()),
                    *r.scopes.get(EMBED_OPERATION, ()),
                )
            }
        )
        self._field_scopes = frozenset(self.field_scopes)
        self._grants: LRU[tuple[Any, ...], Grants] = LRU(cache_size)
        self._views: LRU[tuple[Any, ...], Resource] = LRU(1024)

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
        """Callers with the same relevant scopes and claims share one `Grants`."""
        claims = principal.claims
        key = (
            version,
            principal.scopes & self._field_scopes,
            tuple(_freeze(claims.get(n)) for n in self.claim_names),
        )
        found = self._grants.get(key)
        if found is None:
            found = self._grants.put(key, self._build(principal, self.mapping.versions[version]))
        return found

    def _build(self, principal: Principal, version: VersionMapping) -> Grants:
        scopes = principal.scopes
        rows: dict[str, tuple[RowFilter, ...]] = {}
        denied: dict[str, str] = {}
        for res in version.resources.values():
            filters, reason = _row_filters(res, principal)
            if reason:
                denied[res.name] = reason
            elif filters:
                rows[res.name] = filters
        through = _through(version, scopes, rows, denied)

        def readable(target: Resource) -> bool:
            needed = target.scopes.get(EMBED_OPERATION)
            return bool(needed) and scopes.issuperset(needed) and target.name not in denied

        hidden: dict[str, frozenset[str]] = {}
        for res in version.resources.values():
            names = {f.name for f in res.fields if f.scope and f.scope not in scopes}
            names |= {r.name for r in res.relations if not readable(version.resources[r.target])}
            if names:
                hidden[res.name] = frozenset(names)
        views = {name: self._view(version.resources[name], h) for name, h in hidden.items()}
        keys = {
            res.name: key
            for res in version.resources.values()
            if (key := _scope_key(version, res.name, rows, through, hidden))
        }
        access = Access(rows, frozenset(through), hidden, views, keys, private=True)
        return Grants(access, denied)

    def _view(self, resource: Resource, hidden: frozenset[str]) -> Resource:
        key = (resource.version, resource.name, hidden)
        view = self._views.get(key)
        if view is None:
            view = self._views.put(key, resource.view(hidden))
        return view


def _row_filters(res: Resource, principal: Principal) -> tuple[tuple[RowFilter, ...], str]:
    filters: list[RowFilter] = []
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
        texts = tuple(sorted({str(v) for v in values}))  # the same values, the same key
        try:
            for text in texts:
                field.converter.parse(text)
        except ConversionError:
            return (), f"the {rule.claim!r} claim does not fit {res.name}.{field.name}"
        filters.append(RowFilter(field.name, texts, rule.claim))
    return tuple(filters), ""


def _through(
    version: VersionMapping,
    scopes: frozenset[str],
    rows: dict[str, tuple[RowFilter, ...]],
    denied: dict[str, str],
) -> set[str]:
    """The resources whose `through` rule limits this caller: the rule applies
    (no `unless_scope` held) and the related resource is itself limited. A
    resource whose related resource is refused is refused too."""
    limited: set[str] = set()
    changed = True
    while changed:  # rules may chain (lines -> orders -> customers)
        changed = False
        for res in version.resources.values():
            rule = res.through
            if rule is None or res.name in limited or res.name in denied:
                continue
            if rule.unless_scope and rule.unless_scope in scopes:
                continue
            relation = res.relation(rule.relation)
            assert relation is not None
            target = relation.target
            if target in denied:
                denied[res.name] = denied[target]
                changed = True
            elif target in rows or target in limited:
                limited.add(res.name)
                changed = True
    return limited


def _scope_key(
    version: VersionMapping,
    name: str,
    rows: dict[str, tuple[RowFilter, ...]],
    through: set[str],
    hidden: dict[str, frozenset[str]],
) -> str:
    parts: list[Any] = []
    while True:
        parts.append((name, rows.get(name, ()), sorted(hidden.get(name, ()))))
        if name not in through:
            break
        res = version.resources[name]
        relation = res.relation(res.through.relation)  # type: ignore[union-attr]
        assert relation is not None
        name = relation.target
    if all(not r and not h for _, r, h in parts) and len(parts) == 1:
        return ""
    return repr([(n, [(f.field, f.values) for f in r], h) for n, r, h in parts])
