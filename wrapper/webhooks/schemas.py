"""The subscriptions API's bodies: marshmallow schemas that validate requests and
document requests and responses (responses are built as plain dicts)."""

from __future__ import annotations

import marshmallow as ma

from wrapper.events.tables import DEAD, FAILED, PENDING, SUCCEEDED

_TIME = {"format": "date-time"}
# Delivery ids are the state database's 64-bit integers: a larger number is a 400
# naming the field, not a database overflow.
_ID = ma.validate.Range(min=1, max=2**63 - 1)
PATTERN = r"^(\*|([a-z][a-z0-9_]*|\*)\.(created|updated|deleted|\*))$"


class SubscriptionIn(ma.Schema):
    url = ma.fields.String(
        required=True,
        metadata={"format": "uri", "description": "http(s) URL the events are POSTed to"},
    )
    event_types = ma.fields.List(
        ma.fields.String(metadata={"pattern": PATTERN}),
        required=True,
        validate=ma.validate.Length(min=1, error="name at least one event type pattern"),
        metadata={"description": "patterns such as orders.*, orders.updated, *.deleted or *"},
    )
    filter = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "only rows matching, written like a list query string: "
            "status=shipped&rush=true, status[in]=shipped,closed, status[ne]=open"
        },
    )
    active = ma.fields.Boolean(metadata={"description": "false pauses deliveries (default true)"})


class SubscriptionPatch(SubscriptionIn):
    url = ma.fields.String()
    event_types = ma.fields.List(ma.fields.String())


class SubscriptionOut(ma.Schema):
    class Meta:
        ordered = True

    id = ma.fields.String()
    api_version = ma.fields.String()
    url = ma.fields.String()
    event_types = ma.fields.List(ma.fields.String())
    filter = ma.fields.String(allow_none=True)
    active = ma.fields.Boolean()
    disabled_reason = ma.fields.String(
        allow_none=True, metadata={"description": "why deliveries stopped, while inactive"}
    )
    disabled_at = ma.fields.String(allow_none=True, metadata=_TIME)
    failing_since = ma.fields.String(allow_none=True, metadata=_TIME)
    created_at = ma.fields.String(metadata=_TIME)
    updated_at = ma.fields.String(metadata=_TIME)


class SubscriptionCreated(SubscriptionOut):
    secret = ma.fields.String(
        metadata={"description": "the whsec_ signing secret: shown only now and on rotation"}
    )


class SubscriptionList(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(SubscriptionOut))


class RotateIn(ma.Schema):
    overlap_seconds = ma.fields.Float(
        validate=ma.validate.Range(min=0),
        metadata={"description": "how long the current secrets keep signing (default 1 day)"},
    )


class SecretOut(ma.Schema):
    secret = ma.fields.String(metadata={"description": "the new whsec_ secret, shown only now"})
    previous_expire_at = ma.fields.String(metadata=_TIME)


class PingOut(ma.Schema):
    event_id = ma.fields.String()
    delivery_id = ma.fields.Integer()


class ReplayIn(ma.Schema):
    since = ma.fields.String(
        metadata={"format": "date-time", "description": "every event from this time on"}
    )
    after_event = ma.fields.String(
        metadata={"description": "every event after this event id (exclusive)"}
    )


class DeadReplayIn(ma.Schema):
    delivery_ids = ma.fields.List(
        ma.fields.Integer(validate=_ID),
        validate=ma.validate.Length(max=1000),  # one bound parameter each
        metadata={"description": "only these (default: every dead one)"},
    )


class QueuedOut(ma.Schema):
    queued = ma.fields.Integer(metadata={"description": "deliveries put in the queue"})


class RedeliveredOut(ma.Schema):
    delivery_id = ma.fields.Integer()


class AttemptOut(ma.Schema):
    at = ma.fields.String(metadata=_TIME)
    status_code = ma.fields.Integer(allow_none=True)
    latency_ms = ma.fields.Integer()
    error = ma.fields.String(allow_none=True)


class DeliveryOut(ma.Schema):
    class Meta:
        ordered = True

    id = ma.fields.Integer()
    event_id = ma.fields.String()
    event_type = ma.fields.String()
    status = ma.fields.String(
        metadata={"enum": [PENDING, FAILED, SUCCEEDED, DEAD], "description": "dead: dead letter"}
    )
    attempts = ma.fields.Integer()
    next_attempt_at = ma.fields.String(
        allow_none=True, metadata={"format": "date-time", "description": "the next retry"}
    )
    created_at = ma.fields.String(metadata=_TIME)
    completed_at = ma.fields.String(allow_none=True, metadata=_TIME)
    last_status_code = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    log = ma.fields.List(ma.fields.Nested(AttemptOut), metadata={"description": "oldest first"})


class DeliveryPage(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DeliveryOut), metadata={"description": "newest first"})
    next = ma.fields.String(allow_none=True, metadata={"description": "the next page's URL"})


class DeliveryQuery(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([PENDING, FAILED, SUCCEEDED, DEAD]))
    event_id = ma.fields.String()
    before = ma.fields.Integer(
        validate=_ID, metadata={"description": "deliveries older than this id"}
    )
    limit = ma.fields.Integer(validate=ma.validate.Range(min=1, max=200))


class PageQuery(ma.Schema):
    before = ma.fields.Integer(
        validate=_ID, metadata={"description": "deliveries older than this id"}
    )
    limit = ma.fields.Integer(validate=ma.validate.Range(min=1, max=200))
