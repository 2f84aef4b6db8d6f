"""Subscriptions and their signing secrets.

A subscription belongs to an owner (a token subject or an API key) and names
an API version, a target URL, event type patterns (`orders.*`,
`orders.updated`, `*`) and an optional filter, kept as text for the rules
that interpret it. Its secret is returned once at creation and on rotation;
during a rotation's overlap every unexpired secret signs each request.
"""

from __future__ import annotations

import re
import secrets as random
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from wrapper.events import signing
from wrapper.events.errors import InvalidSubscription, NotFound, TargetRefused
from wrapper.events.ssrf import Resolver, TargetPolicy, check_url
from wrapper.events.tables import attempts, deliveries, secrets, subscriptions

_SEGMENT = re.compile(r"[a-z][a-z0-9_]*|\*")
_VERSION = re.compile(r"[A-Za-z0-9_.-]{1,20}")
MAX_URL = 2000
MAX_FILTER = 4000
UNSET: Any = object()


@dataclass(frozen=True)
class Subscription:
    id: str
    owner: str
    api_version: str
    url: str
    event_types: tuple[str, ...]
    filter: str | None
    active: bool
    disabled_reason: str | None
    disabled_at: float | None
    failing_since: float | None
    created_at: float
    updated_at: float
    # The owner's credentials as stored at creation or last update: {"scopes":
    # [...], "claims": {...}}; None for a subscription that sees every row.
    owner_grant: dict[str, Any] | None = None

    def wants(self, event_type: str) -> bool:
        return any(type_matches(p, event_type) for p in self.event_types)


def type_matches(pattern: str, event_type: str) -> bool:
    """`*` matches every type; otherwise each `*` segment matches one segment."""
    if pattern == "*":
        return True
    want, got = pattern.split("."), event_type.split(".")
    return len(want) == len(got) and all(w in ("*", g) for w, g in zip(want, got, strict=True))


def event_type_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    result: list[str] = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not all(
            _SEGMENT.fullmatch(s) for s in pattern.split(".")
        ):
            raise InvalidSubscription(
                "event_types", f"{pattern!r} is not a type pattern like orders.* or orders.updated"
            )
        if pattern not in result:
            result.append(pattern)
    if not result:
        raise InvalidSubscription("event_types", "name at least one event type pattern")
    return tuple(result)


def _checked_url(url: str, policy: TargetPolicy, resolver: Resolver) -> str:
    if len(url) > MAX_URL:
        raise InvalidSubscription("url", f"longer than {MAX_URL} characters")
    try:
        check_url(url, policy, resolver)
    except TargetRefused as err:
        raise InvalidSubscription("url", str(err)) from None
    return url


def _checked_filter(text: str | None) -> str | None:
    if text is not None and len(text) > MAX_FILTER:
        raise InvalidSubscription("filter", f"longer than {MAX_FILTER} characters")
    return text


def _grant_text(grant: dict[str, Any] | None) -> str | None:
    return None if grant is None else orjson.dumps(grant).decode()


def from_row(row: Any) -> Subscription:
    m = row._mapping
    return Subscription(
        id=m["id"],
        owner=m["owner"],
        api_version=m["api_version"],
        url=m["url"],
        event_types=tuple(orjson.loads(m["event_types"])),
        filter=m["filter"],
        active=bool(m["active"]),
        disabled_reason=m["disabled_reason"],
        disabled_at=m["disabled_at"],
        failing_since=m["failing_since"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        owner_grant=None if m["owner_grant"] is None else orjson.loads(m["owner_grant"]),
    )


def create(
    engine: sa.Engine,
    *,
    owner: str,
    api_version: str,
    url: str,
    event_types: Sequence[str],
    filter: str | None = None,
    owner_grant: dict[str, Any] | None = None,
    policy: TargetPolicy,
    resolver: Resolver = socket.getaddrinfo,
    now: float | None = None,
) -> tuple[Subscription, str]:
    """A new active subscription and its signing secret (shown only here)."""
    if not _VERSION.fullmatch(api_version):
        raise InvalidSubscription("api_version", f"{api_version!r} is not an API version")
    values = {
        "id": "sub_" + random.token_urlsafe(18),
        "owner": owner,
        "api_version": api_version,
        "url": _checked_url(url, policy, resolver),
        "event_types": orjson.dumps(event_type_patterns(event_types)).decode(),
        "filter": _checked_filter(filter),
        "owner_grant": _grant_text(owner_grant),
        "active": True,
        "created_at": time.time() if now is None else now,
    }
    values["updated_at"] = values["created_at"]
    secret = signing.new_secret()
    with engine.begin() as conn:
        conn.execute(subscriptions.insert().values(values))
        conn.execute(
            secrets.insert().values(
                subscription_id=values["id"], secret=secret, created_at=values["created_at"]
            )
        )
    return get(engine, values["id"]), secret


def get(
    engine: sa.Engine,
    subscription_id: str,
    *,
    owner: str | None = None,
    api_version: str | None = None,
) -> Subscription:
    """The subscription; `NotFound` when missing or, with ``owner`` or
    ``api_version``, someone else's or another version's."""
    query = subscriptions.select().where(subscriptions.c.id == subscription_id)
    if owner is not None:
        query = query.where(subscriptions.c.owner == owner)
    if api_version is not None:
        query = query.where(subscriptions.c.api_version == api_version)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"no subscription {subscription_id}")
    return from_row(row)


def list_for_owner(
    engine: sa.Engine, owner: str, *, api_version: str | None = None
) -> list[Subscription]:
    query = (
        subscriptions.select()
        .where(subscriptions.c.owner == owner)
        .order_by(subscriptions.c.created_at, subscriptions.c.id)
    )
    if api_version is not None:
        query = query.where(subscriptions.c.api_version == api_version)
    with engine.connect() as conn:
        return [from_row(r) for r in conn.execute(query)]


def update(
    engine: sa.Engine,
    subscription_id: str,
    *,
    url: str = UNSET,
    event_types: Sequence[str] = UNSET,
    filter: str | None = UNSET,
    active: bool = UNSET,
    owner_grant: dict[str, Any] | None = UNSET,
    policy: TargetPolicy,
    resolver: Resolver = socket.getaddrinfo,
    now: float | None = None,
) -> Subscription:
    """Changes the given fields; activating clears the reason it was disabled for."""
    now = time.time() if now is None else now
    values: dict[str, Any] = {"updated_at": now}
    if url is not UNSET:
        values["url"] = _checked_url(url, policy, resolver)
    if event_types is not UNSET:
        values["event_types"] = orjson.dumps(event_type_patterns(event_types)).decode()
    if filter is not UNSET:
        values["filter"] = _checked_filter(filter)
    if owner_grant is not UNSET:
        values["owner_grant"] = _grant_text(owner_grant)
    if active is not UNSET:
        values["active"] = bool(active)
        values["disabled_at"] = None if active else now
        values["disabled_reason"] = None if active else "disabled by its owner"
        values["failing_since"] = None
    with engine.begin() as conn:
        done = conn.execute(
            subscriptions.update().where(subscriptions.c.id == subscription_id).values(values)
        )
    if done.rowcount == 0:
        raise NotFound(f"no subscription {subscription_id}")
    return get(engine, subscription_id)


def delete(engine: sa.Engine, subscription_id: str) -> None:
    """Removes the subscription with its secrets, deliveries and attempts."""
    mine = sa.select(deliveries.c.id).where(deliveries.c.subscription_id == subscription_id)
    with engine.begin() as conn:
        conn.execute(attempts.delete().where(attempts.c.delivery_id.in_(mine)))
        conn.execute(deliveries.delete().where(deliveries.c.subscription_id == subscription_id))
        conn.execute(secrets.delete().where(secrets.c.subscription_id == subscription_id))
        gone = conn.execute(subscriptions.delete().where(subscriptions.c.id == subscription_id))
    if gone.rowcount == 0:
        raise NotFound(f"no subscription {subscription_id}")


def rotate_secret(
    engine: sa.Engine, subscription_id: str, *, overlap: float, now: float | None = None
) -> str:
    """A new signing secret; the current ones keep signing for ``overlap`` seconds."""
    now = time.time() if now is None else now
    secret = signing.new_secret()
    current = (secrets.c.subscription_id == subscription_id) & (
        secrets.c.expires_at.is_(None) | (secrets.c.expires_at > now + overlap)
    )
    with engine.begin() as conn:
        conn.execute(secrets.update().where(current).values(expires_at=now + overlap))
        found = conn.execute(
            sa.select(subscriptions.c.id).where(subscriptions.c.id == subscription_id)
        ).first()
        if found is None:
            raise NotFound(f"no subscription {subscription_id}")
        conn.execute(
            secrets.insert().values(subscription_id=subscription_id, secret=secret, created_at=now)
        )
        conn.execute(secrets.delete().where(secrets.c.expires_at <= now))
    return secret
