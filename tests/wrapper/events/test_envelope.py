"""CloudEvents envelopes and event ids."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import orjson
import pytest

from wrapper.events.envelope import (
    change_event,
    dumps,
    envelope,
    loads,
    new_event_id,
    rfc3339,
    stable_event_id,
)


def test_the_envelope_carries_the_cloudevents_attributes() -> None:
    event = change_event(
        "orders", "updated", "v1", "O1", {"order_no": "O1", "status": "shipped"},
        changed_fields=("status",), event_id="evt_x", at=1_800_000_000.5,
    )  # fmt: skip
    body = envelope(event, source="https://api.example.com/v1/orders")
    assert body == {
        "specversion": "1.0",
        "id": "evt_x",
        "source": "https://api.example.com/v1/orders",
        "type": "orders.updated",
        "subject": "O1",
        "time": "2027-01-15T08:00:00.500Z",
        "datacontenttype": "application/json",
        "changedfields": "status",
        "data": {"order_no": "O1", "status": "shipped"},
    }


def test_sequence_sorts_as_text_and_a_subscriber_view_replaces_type_and_data() -> None:
    event = change_event("orders", "updated", "v1", "O1", {"a": 1}, changed_fields=("a",))
    event = replace(event, sequence=42)
    body = envelope(event, source="/v1/orders", event_type="orders.deleted", data=None,
                    changed_fields=())  # fmt: skip
    assert body["sequence"] == "00000000000000000042"
    assert body["type"] == "orders.deleted" and body["data"] is None
    assert "changedfields" not in body


def test_decimals_survive_a_round_trip_exactly() -> None:
    data = {"total": Decimal("12345678901234567.89"), "qty": 3}
    text = dumps(data)
    assert text == b'{"total":12345678901234567.89,"qty":3}'
    assert loads(text) == data


def test_event_ids_are_unique_and_sort_by_time() -> None:
    ids = [new_event_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(i.startswith("evt_") and len(i) == 30 for i in ids)


def test_stable_ids_depend_only_on_what_identifies_the_change() -> None:
    a = stable_event_id("orders", "O1", 20261125120000)
    assert a == stable_event_id("orders", "O1", 20261125120000)
    assert a != stable_event_id("orders", "O1", 20261125120001)
    assert a != stable_event_id("orders", "O", "1", 20261125120000)


@pytest.mark.parametrize(("resource", "action"), [("orders", "shipped"), ("Orders", "updated")])
def test_types_are_resource_dot_action(resource: str, action: str) -> None:
    with pytest.raises(ValueError):
        change_event(resource, action, "v1", "k", {})


def test_time_is_rfc3339_utc() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00.000Z"
    assert orjson.loads(dumps({"t": rfc3339(1.25)})) == {"t": "1970-01-01T00:00:01.250Z"}
