"""Legacy values kept in the state database come back as the same values."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from wrapper.events.capture.values import changed_columns, column_hashes, pack, unpack


def test_values_round_trip_with_their_types() -> None:
    values = (
        None, True, 7, 1.5, "C0001005  ", Decimal("10.50"), dt.date(2026, 11, 30),
        dt.datetime(2026, 11, 30, 8, 0, 1, 5), dt.time(23, 59), dt.timedelta(hours=-2),
        b"\x00\xff", uuid.UUID(int=5),
    )  # fmt: skip
    text = pack(values)
    assert unpack(text) == values
    assert [type(v) for v in unpack(text)] == [type(v) for v in values]
    assert pack(unpack(text)) == text  # canonical: a key always packs the same


def test_column_hashes_name_the_columns_that_changed() -> None:
    before = column_hashes((1, "a", None))
    after = column_hashes((1, "b", ""))
    assert changed_columns(before, after, ("K", "V", "W")) == ("V", "W")
    assert changed_columns(before, before, ("K", "V", "W")) == ()
