"""What one caller may see: row rules and hidden fields, per resource.

Authorization produces an `Access` for each request; the read path applies it
everywhere a row can leave the wrapper (lists, items, embedded relations): row
rules become legacy WHERE conditions, hidden fields disappear from the resource
the request is parsed against, so they cannot be selected, filtered or sorted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from legacy_adapters.base import Condition
from wrapper.mapping.model import Resource


@dataclass(frozen=True)
class Access:
    rules: Mapping[str, tuple[Condition, ...]] = field(default_factory=dict)
    hidden: Mapping[str, frozenset[str]] = field(default_factory=dict)
    identity: str | None = None  # who is asking: a token subject or an API key id
    scopes: frozenset[str] = frozenset()  # the caller's scopes (rate-limit tiers)

    def conditions(self, resource: Resource) -> tuple[Condition, ...]:
        return self.rules.get(resource.name, ())

    def view(self, resource: Resource) -> Resource:
        """The resource as this caller sees it."""
        hidden = self.hidden.get(resource.name)
        return resource.without(hidden) if hidden else resource

    def scope_key(self, resource: Resource) -> str:
        """Identifies what this caller can see of `resource` (for shared caches)."""
        rules = self.conditions(resource)
        hidden = sorted(self.hidden.get(resource.name, ()))
        return repr((rules, hidden)) if rules or hidden else ""


EVERYTHING = Access()
