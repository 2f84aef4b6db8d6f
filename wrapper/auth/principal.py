"""Who is asking: the outcome of authentication, whatever the credential."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Principal:
    subject: str  # a token's `sub` (a client id) or `key:<prefix>` for an API key
    scopes: frozenset[str]
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False)
    expires_at: float | None = None  # seconds since the epoch


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """RFC 8693/9068 `scope` (space-separated) or the common `scp` list."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list):
        return frozenset(s for s in scp if isinstance(s, str))
    if isinstance(scp, str):
        return frozenset(scp.split())
    return frozenset()
