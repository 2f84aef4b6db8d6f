"""What the subscriptions API works with, built once at start, and the small
steps its views share: who asks, which subscription, request bodies, times."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import request

from wrapper.auth.principal import Principal
from wrapper.config import WebhooksConfig
from wrapper.events import subscriptions
from wrapper.events.envelope import rfc3339
from wrapper.events.ssrf import Resolver, TargetPolicy
from wrapper.events.subscriptions import Subscription
from wrapper.events.visibility import Visibility, grant_of
from wrapper.mapping.model import WEBHOOKS_SCOPE
from wrapper.problems import InsufficientScope, InvalidField, InvalidParameter

SCOPE = WEBHOOKS_SCOPE
ANONYMOUS = "anonymous"  # the owner of every subscription while serving with --no-auth


@dataclass(frozen=True)
class Webhooks:
    engine: sa.Engine  # the events tables in the wrapper's state database
    visibility: Visibility
    config: WebhooksConfig
    policy: TargetPolicy  # the SSRF allowlist
    authenticate: Callable[[], Principal | None]  # None: --no-auth, every row
    source_base: str = ""  # CloudEvents `source` starts here (the public URL)
    resolver: Resolver = socket.getaddrinfo

    def caller(self) -> tuple[str, Principal | None]:
        """The owner the caller acts as, after checking it may manage webhooks."""
        principal = self.authenticate()
        if principal is None:
            return ANONYMOUS, None
        if SCOPE not in principal.scopes:
            raise InsufficientScope(f"managing webhooks needs the scope {SCOPE}", (SCOPE,))
        return principal.subject, principal

    def grant(self, principal: Principal | None) -> dict[str, Any] | None:
        return grant_of(principal, self.visibility.policy)

    def own(self, version: str, subscription_id: str) -> tuple[Subscription, Principal | None]:
        """The caller's subscription of this version; 404 for anyone else's."""
        owner, principal = self.caller()
        found = subscriptions.get(self.engine, subscription_id, owner=owner, api_version=version)
        return found, principal

    def close(self) -> None:
        self.engine.dispose()


def body(schema: ma.Schema) -> dict[str, Any]:
    """The JSON body, validated; a 400 naming the first field that does not fit."""
    data = request.get_json(silent=True)
    if data is None and not request.get_data():
        data = {}
    if not isinstance(data, dict):
        raise InvalidField("body", "send a JSON object (Content-Type: application/json)")
    try:
        return schema.load(data)
    except ma.ValidationError as err:
        field, message = _first(err.messages)
        raise InvalidField(field, f"{field}: {message}") from None


def query(schema: ma.Schema) -> dict[str, Any]:
    """The query string, validated; unknown parameters are refused."""
    try:
        return schema.load(request.args.to_dict(flat=True))
    except ma.ValidationError as err:
        name, message = _first(err.messages)
        raise InvalidParameter(name, f"{name}: {message}") from None


def _first(messages: Any) -> tuple[str, str]:
    if isinstance(messages, dict) and messages:
        name, inner = next(iter(messages.items()))
        if isinstance(inner, dict):  # a list item: {index: [...]}
            index, text = _first(inner)
            return f"{name}[{index}]", text
        return str(name), " ".join(map(str, inner)) if isinstance(inner, list) else str(inner)
    return "body", str(messages)


def epoch(text: str, field: str) -> float:
    """An RFC 3339 date-time as seconds since the epoch (a zone is required)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidField(
            field, f"{field}: not a date-time such as 2026-11-30T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise InvalidField(field, f"{field}: give a time zone (Z or +01:00)")
    return moment.timestamp()


def moment(value: float | None) -> str | None:
    return None if value is None else rfc3339(value)


def present(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "api_version": sub.api_version,
        "url": sub.url,
        "event_types": list(sub.event_types),
        "filter": sub.filter,
        "active": sub.active,
        "disabled_reason": sub.disabled_reason,
        "disabled_at": moment(sub.disabled_at),
        "failing_since": moment(sub.failing_since),
        "created_at": moment(sub.created_at),
        "updated_at": moment(sub.updated_at),
    }
