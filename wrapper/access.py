"""What one caller may see, in modern terms: row filters and hidden fields, per resource.

Authorization (`auth/policy.py`) produces an `Access`; nothing in it is legacy.
A row filter names a field and the caller's claim values as text (`customer_no
in ("C0001005",)`), exactly like a query-string filter; the plan step
(`translate.py`) turns it into legacy conditions through the field's
converter, so it reaches the SQL WHERE clause of lists, items and embedded
relations alike. A resource with a `through` rule is visible where its related
row is visible: the plan writes that as a semi-join. Hidden fields and
relations are left out of the caller's view of a resource (`view`), so they
cannot be selected, filtered, sorted or embedded.

The same `Access` decides what a webhook subscriber receives: `RowFilter.admits`
checks a rendered row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wrapper.mapping.model import Resource


@dataclass(frozen=True)
class RowFilter:
    """Only rows whose `field` equals one of `values` (the caller's `claim`)."""

    field: str
    values: tuple[str, ...]
    claim: str

    def admits(self, row: Mapping[str, Any]) -> bool:
        """Whether a rendered row passes (values compare as their JSON text)."""
        value = row.get(self.field)
        return value is not None and str(value) in self.values


@dataclass(frozen=True)
class Access:
    rows: Mapping[str, tuple[RowFilter, ...]] = field(default_factory=dict)
    through: frozenset[str] = frozenset()  # resources whose `through` rule applies
    hidden: Mapping[str, frozenset[str]] = field(default_factory=dict)
    views: Mapping[str, Resource] = field(default_factory=dict)  # resource -> caller's view
    scope_keys: Mapping[str, str] = field(default_factory=dict)
    private: bool = False  # the answer depends on credentials (never `public` in caches)

    def filters(self, resource: Resource) -> tuple[RowFilter, ...]:
        return self.rows.get(resource.name, ())

    def follows(self, resource: Resource) -> bool:
        """Whether `resource`'s rows are limited to those whose related row is visible."""
        return resource.name in self.through

    def view(self, resource: Resource) -> Resource:
        """The resource as this caller sees it."""
        return self.views.get(resource.name, resource)

    def scope_key(self, resource: Resource) -> str:
        """Identifies what this caller can see of `resource` (for shared caches): the
        modern row filters and hidden fields, following `through` rules."""
        return self.scope_keys.get(resource.name, "")


EVERYTHING = Access()
