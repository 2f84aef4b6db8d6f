"""`events status` lines: capture lag per resource, the outbox backlog, failing
and disabled endpoints."""

from __future__ import annotations

import time

from wrapper.events.capture.tables import units
from wrapper.events.delivery import DeliveryEngine
from wrapper.events.status import report

from .conftest import FAST, order_event, publish, subscribe
from .receiver import Receiver


def test_status_names_lag_backlog_and_a_failing_endpoint(store) -> None:
    now = time.time() + 60  # every retry is due by then
    with store.begin() as conn:
        conn.execute(units.insert().values(unit="orders", mode="snapshot", polled_at=now - 12.5))
    with Receiver(answer=lambda _request: 503) as receiver:
        subscription, _ = subscribe(store, receiver.url)
        publish(store, order_event("O1"), order_event("O2"))
        engine = DeliveryEngine(store, FAST)
        engine.run(until_idle=True)
        engine.close()
    lines = report(store, now=now)
    assert "  orders (snapshot): lag 12.5 s" in lines
    assert "outbox: 0 events not yet dispatched" in lines
    (deliveries,) = [line for line in lines if line.startswith("deliveries: ")]
    assert deliveries.startswith(("deliveries: 2 open (2 due, oldest 6", "deliveries: 0 open"))
    assert "failing endpoints: 1" in lines
    assert any(line.startswith(f"  {subscription.id} {receiver.url}: failing") for line in lines)
