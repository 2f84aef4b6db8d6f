"""Conditional GETs: strong ETags over the encoded body, `If-None-Match` -> 304.

An `Entity` is a response body encoded once, with its ETag computed once; the
shared cache stores entities, so a revalidation that hits the cache answers
304 without touching the legacy database or encoding anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import Response, request
from xxhash import xxh3_128_hexdigest

JSON = "application/json"


@dataclass(frozen=True)
class Entity:
    body: bytes
    etag: str  # strong: quoted hash of `body` (xxh3-128)
    headers: tuple[tuple[str, str], ...] = ()


def make_entity(body: bytes, headers: Iterable[tuple[str, str]] = ()) -> Entity:
    # xxh3-128: a change of the body changes the tag (128 bits: no accidental
    # collision), at memory speed (0.3 us for an 8 KB page; blake2b took 9 us)
    return Entity(body, f'"{xxh3_128_hexdigest(body)}"', tuple(headers))


def etag_matches(header: str | None, etag: str) -> bool:
    """`If-None-Match` uses the weak comparison (RFC 9110 13.1.2)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def conditional(
    entity: Entity, cache_control: str | None, if_none_match: str | None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body): 200 with the entity, or 304 without a body when the
    client already holds it (`if_none_match`: the request's `If-None-Match`)."""
    headers = [("ETag", entity.etag)]
    if cache_control:
        headers.append(("Cache-Control", cache_control))
    if etag_matches(if_none_match, entity.etag):
        return 304, headers, b""
    return 200, [*entity.headers, *headers, ("Content-Type", JSON)], entity.body


def conditional_response(entity: Entity, cache_control: str | None = None) -> Response:
    """`conditional` as a Flask response."""
    status, headers, body = conditional(
        entity, cache_control, request.environ.get("HTTP_IF_NONE_MATCH")
    )
    if status == 304:
        return Response(status=304, headers=headers)
    return Response(body, headers=headers)
