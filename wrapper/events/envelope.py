"""Events and their CloudEvents 1.0 JSON envelope.

An event says that one row of a resource changed, in the shape an API version
renders it: `type` is `<resource>.created|updated|deleted`, `subject` the
resource key as it appears in URLs, `data` the row (or, for a deletion, what
is left of it). Two extension attributes follow the CloudEvents rules (lower
case letters, string values): `sequence`, the outbox position zero-padded so
that it sorts as text (the CloudEvents sequence extension), and
`changedfields`, the comma-separated names of the fields an update changed.

Event ids are unique and stable: the same event keeps its id on every retry,
redelivery and replay, and `stable_event_id` derives one from what identifies
a change, so capturing the same change twice yields the same id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

ACTIONS = ("created", "updated", "deleted")
CONTENT_TYPE = "application/cloudevents+json"
_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_EVENT_DATA: Any = object()


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    resource: str
    version: str
    subject: str | None
    time: float
    data: Any
    changed_fields: tuple[str, ...] = ()
    sequence: int | None = field(default=None, compare=False)
    # What subscribers' row rules need of the row before the change (rendered
    # field -> value), when capture knows it: an update that takes a row out of
    # a subscriber's view reaches it as a deletion. Never sent to a receiver.
    previous: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not _TYPE.fullmatch(self.type):
            raise ValueError(f"event type {self.type!r} is not <resource>.<action>")


def change_event(
    resource: str,
    action: str,
    version: str,
    subject: str | None,
    data: Any,
    *,
    changed_fields: tuple[str, ...] = (),
    event_id: str | None = None,
    at: float | None = None,
    previous: dict[str, Any] | None = None,
) -> Event:
    """An event for a row of ``resource`` that was created, updated or deleted."""
    if action not in ACTIONS:
        raise ValueError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    return Event(
        id=event_id or new_event_id(),
        type=f"{resource}.{action}",
        resource=resource,
        version=version,
        subject=subject,
        time=time.time() if at is None else at,
        data=data,
        changed_fields=changed_fields,
        previous=previous,
    )


def new_event_id() -> str:
    """A random id that sorts by creation time: 48 bits of milliseconds, 80 random bits."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "evt_" + "".join(_CROCKFORD[(value >> s) & 31] for s in range(125, -1, -5))


def stable_event_id(*parts: str | int) -> str:
    """An id derived from what identifies a change (resource, key, watermark, ...)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return "evt_" + base64.b32encode(digest).decode().lower()[:26]


def rfc3339(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(
    event: Event,
    *,
    source: str,
    event_type: str | None = None,
    data: Any = _EVENT_DATA,
    changed_fields: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The CloudEvents attributes of ``event`` as one subscriber receives it
    (``event_type``, ``data`` and ``changed_fields`` default to the event's)."""
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": event.id,
        "source": source,
        "type": event_type or event.type,
    }
    if event.subject is not None:
        body["subject"] = event.subject
    body["time"] = rfc3339(event.time)
    body["datacontenttype"] = "application/json"
    if event.sequence is not None:
        body["sequence"] = f"{event.sequence:020d}"
    changed = event.changed_fields if changed_fields is None else changed_fields
    if changed:
        body["changedfields"] = ",".join(changed)
    body["data"] = event.data if data is _EVENT_DATA else data
    return body


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f").encode())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """JSON bytes; decimals stay exact."""
    return orjson.dumps(value, default=_default)


def loads(text: str | bytes) -> Any:
    """JSON text back to values, numbers with a fraction as exact decimals."""
    return json.loads(text, parse_float=Decimal)
