"""The range-checksum capability of the SQL adapter: checksums computed in the
database agree with the hashes of the rows, parts add up to the whole, and any
change of a column (a NULL for an empty text too) changes the checksum."""

from __future__ import annotations

import sqlalchemy as sa

from legacy_adapters.base import RANGE_CHECKSUMS, RangeChecksums, TableRef
from legacy_adapters.sql.source import SQLAlchemySource

T = TableRef("T")
KEY = ("A", "B")
COLUMNS = ("A", "B", "V", "TS")


def build(url: str) -> tuple[sa.Engine, sa.Table]:
    engine = sa.create_engine(url)
    table = sa.Table(
        "T", sa.MetaData(),
        sa.Column("A", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("B", sa.String(10), primary_key=True),
        sa.Column("V", sa.String(20)),
        sa.Column("TS", sa.DateTime),
    )  # fmt: skip
    table.create(engine)
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [{"A": a, "B": b, "V": f"{a}{b}", "TS": None} for a in range(1, 11) for b in "xyz"],
        )
    return engine, table


def set_v(engine: sa.Engine, table: sa.Table, a: int, b: str, value: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(table.update().where(table.c.A == a, table.c.B == b).values(V=value))


def test_parts_add_up_and_a_change_shows(fresh_url: str) -> None:
    engine, table = build(fresh_url)
    source = SQLAlchemySource(fresh_url)
    source.reflect([T])
    assert RANGE_CHECKSUMS in source.capabilities.extra and isinstance(source, RangeChecksums)

    (whole,) = source.range_checksums(T, KEY, COLUMNS, None, None, []).values()
    parts = source.range_checksums(T, KEY, COLUMNS, None, None, [(3, "y"), (8, "x")])
    assert sorted(parts) == [0, 1, 2]
    assert [parts[i][0] for i in range(3)] == [7, 14, 9]
    assert sum(count for count, _ in parts.values()) == whole[0] == 30
    assert sum(checksum for _, checksum in parts.values()) == whole[1]

    rows = source.range_rows(T, KEY, COLUMNS, (3, "y"), (8, "x"))
    assert [r[:2] for r in rows][:3] == [(3, "y"), (3, "z"), (4, "x")] and len(rows) == 14
    assert sum(r[-1] for r in rows) == parts[1][1]
    assert all(0 <= r[-1] < 2**60 for r in rows)
    assert source.range_rows(T, KEY, COLUMNS, (3, "y"), None, limit=2) == rows[:2]

    set_v(engine, table, 5, "x", "")
    set_v(engine, table, 9, "x", None)
    after = source.range_checksums(T, KEY, COLUMNS, None, None, [(3, "y"), (8, "x")])
    assert after[0] == parts[0] and after[1] != parts[1] and after[2] != parts[2]
    set_v(engine, table, 5, "x", None)  # NULL is not the empty text
    assert source.range_checksums(T, KEY, COLUMNS, None, None, [(3, "y"), (8, "x")])[1] != after[1]
    source.close()
    engine.dispose()
