"""A `webhook.ping` for one subscription: a signed test delivery, queued.

The ping is stored like any event (so it has an id, a delivery log entry and
the same signing and retries) but already marked dispatched, so it reaches
only the subscription that asked; replays leave it out (`webhook` is no
resource of the mapping).
"""

from __future__ import annotations

import time

import orjson
import sqlalchemy as sa

from wrapper.events.envelope import Event, dumps, envelope, new_event_id
from wrapper.events.subscriptions import Subscription
from wrapper.events.tables import PENDING, deliveries, outbox

PING = "webhook.ping"


def enqueue_ping(
    engine: sa.Engine,
    subscription: Subscription,
    *,
    source_base: str = "",
    now: float | None = None,
) -> tuple[str, int]:
    """Queues a ping to ``subscription``; returns its event id and delivery id."""
    now = time.time() if now is None else now
    data = {"subscription_id": subscription.id, "url": subscription.url}
    event = Event(
        id=new_event_id(),
        type=PING,
        resource="webhook",
        version=subscription.api_version,
        subject=subscription.id,
        time=now,
        data=data,
    )
    with engine.begin() as conn:
        seq = conn.execute(
            outbox.insert()
            .values(
                id=event.id,
                type=event.type,
                resource=event.resource,
                version=event.version,
                subject=event.subject,
                time=now,
                data=dumps(data).decode(),
                changed_fields=orjson.dumps([]).decode(),
                dispatched_at=now,
            )
            .returning(outbox.c.seq)
        ).scalar_one()
        source = f"{source_base}/{subscription.api_version}/webhooks"
        body = envelope(event, source=source)
        delivery = conn.execute(
            deliveries.insert()
            .values(
                subscription_id=subscription.id,
                event_seq=seq,
                event_id=event.id,
                event_type=PING,
                ordering_key=None,
                body=dumps(body).decode(),
                status=PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .returning(deliveries.c.id)
        ).scalar_one()
    return event.id, delivery
