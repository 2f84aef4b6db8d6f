"""The column-wise CSV converters accept nothing the value-by-value converters refuse."""

from __future__ import annotations

import random

import pytest

from legacy_adapters.files import csv_types
from legacy_adapters.files.records import Column

ALPHABET = "0123456789+-. \n_eE:T/"


@pytest.mark.parametrize(
    "column",
    [
        Column("I", "integer"),
        Column("D", "decimal", scale=2),
        Column("Z", "decimal"),
        Column("W", "date"),
    ],
)
def test_column_converters_agree_with_value_converters(column):
    rng = random.Random(column.name)
    row = csv_types.converter(column)
    batch = csv_types.column_converter(column)
    assert row is not None and batch is not None
    samples = [
        "",
        "0",
        "12",
        "-7",
        "+5",
        "1.5",
        "1.25",
        "1.255",
        "1.",
        ".5",
        "-.5",
        "2024-02-29",
        "2024-02-30",
    ]
    samples += [
        "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(1, 12))) for _ in range(3000)
    ]
    samples += [f"2024-{rng.randrange(15):02d}-{rng.randrange(35):02d}" for _ in range(300)]
    accepted = 0
    for value in samples:
        try:
            expected = row(value)
        except ValueError:
            expected = ValueError
        got = batch([value])
        if got is not None:
            accepted += 1
            assert got == [expected], value
    assert accepted > 20
