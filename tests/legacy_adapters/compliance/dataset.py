"""The compliance data set: a few small legacy tables with the usual awkwardness
(CHAR keys, NULLs, "no value" sentinels, exact duplicate rows, composite keys,
foreign keys two levels deep), built identically in every adapter.

Values avoid what collations disagree on when the suite sorts by them: keys
are upper-case ASCII, so every backend orders them the same way.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from legacy_adapters.base import ColumnInfo, ForeignKeyInfo, IndexInfo, TableInfo, TableRef

OWNERS = TableRef("OWNERS")
ITEMS = TableRef("ITEMS")
PARTS = TableRef("PARTS")
DUPS = TableRef("DUPS")

metadata = sa.MetaData()
sa.Table(
    "OWNERS",
    metadata,
    sa.Column("OWNER_ID", sa.CHAR(4), primary_key=True),
    sa.Column("REGION", sa.String(8), nullable=False),
)
sa.Table(
    "ITEMS",
    metadata,
    sa.Column("ID", sa.CHAR(6), primary_key=True),
    sa.Column("NAME", sa.String(40)),
    sa.Column("QTY", sa.Integer),
    sa.Column("PRICE", sa.Numeric(9, 2), nullable=False),
    sa.Column("DUE", sa.Integer, nullable=False),  # YYYYMMDD, 0 = no date
    sa.Column("CODE", sa.CHAR(4), nullable=False),
    sa.Column("SHIPPED", sa.Date),
    sa.Column("OWNER_ID", sa.CHAR(4), sa.ForeignKey("OWNERS.OWNER_ID")),
    sa.Index("IX_ITEMS_CODE_DUE", "CODE", "DUE"),
)
sa.Table(
    "PARTS",
    metadata,
    sa.Column("ITEM_ID", sa.CHAR(6), sa.ForeignKey("ITEMS.ID"), primary_key=True),
    sa.Column("LINE", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("AMOUNT", sa.Integer, nullable=False),
)
sa.Table(
    "DUPS",
    metadata,
    sa.Column("A", sa.Integer, nullable=False),
    sa.Column("B", sa.String(10), nullable=False),
)

NAMES = ("Bolt", "bolt", "Müller GmbH", "MÜLLER AG", "nut_50%", "Washer", None, "Gear A\\B")
CODES = ("RN", "HD", "DN", "RNX")


def owners() -> list[tuple[Any, ...]]:
    return [(f"OW{n:02d}", "EU" if n % 2 else "US") for n in range(1, 7)]


def items() -> list[tuple[Any, ...]]:
    rows = []
    for n in range(1, 61):
        due = 0 if n % 11 == 0 else 20260100 + (n % 28) + 1 + (n % 3) * 100
        shipped = None if n % 4 == 0 else dt.date(2026, 1 + n % 12, 1 + n % 27)
        owner = None if n % 13 == 0 else f"OW{1 + n % 6:02d}"
        rows.append(
            (
                f"I{n:05d}",
                NAMES[n % len(NAMES)],
                None if n % 7 == 0 else (n * 37) % 23,
                Decimal(f"{(n * 131) % 1000}.{n % 100:02d}"),
                due,
                CODES[n % len(CODES)],
                shipped,
                owner,
            )
        )
    return rows


def parts() -> list[tuple[Any, ...]]:
    return [
        (f"I{n:05d}", line, n * 10 + line) for n in range(1, 61, 3) for line in range(1, 2 + n % 3)
    ]


def dups() -> list[tuple[Any, ...]]:
    base = [(1, "X"), (1, "X"), (1, "X"), (2, "Y"), (2, "Y"), (3, "Z"), (1, "Y")]
    return base * 3 + [(4, "W")]


ROWS = {OWNERS: owners, ITEMS: items, PARTS: parts, DUPS: dups}


def build_sql(url: str) -> None:
    """Create and fill the tables in an empty database."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            for ref, rows in ROWS.items():
                table = metadata.tables[ref.name]
                names = [c.name for c in table.columns]
                conn.execute(table.insert(), [dict(zip(names, r, strict=True)) for r in rows()])
    finally:
        engine.dispose()


def _column(col: sa.Column) -> ColumnInfo:
    kind = col.type
    python = {
        sa.CHAR: "str",
        sa.String: "str",
        sa.Integer: "int",
        sa.Numeric: "decimal",
        sa.Date: "date",
    }
    return ColumnInfo(
        name=col.name,
        type=str(kind),
        nullable=bool(col.nullable) and not col.primary_key,
        python_type=next(v for k, v in python.items() if isinstance(kind, k)),
        length=getattr(kind, "length", None),
        fixed_length=isinstance(kind, sa.CHAR),
    )


def table_infos() -> dict[TableInfo, list[tuple[Any, ...]]]:
    """The same tables as `TableInfo`s with their rows: what the memory source holds."""
    result = {}
    for ref, rows in ROWS.items():
        table = metadata.tables[ref.name]
        info = TableInfo(
            ref=ref,
            kind="table",
            columns=tuple(_column(c) for c in table.columns),
            primary_key=tuple(c.name for c in table.primary_key.columns),
            indexes=tuple(
                IndexInfo(ix.name, tuple(c.name for c in ix.columns), bool(ix.unique))
                for ix in table.indexes
            ),
            foreign_keys=tuple(
                ForeignKeyInfo(
                    tuple(e.parent.name for e in fk.elements),
                    None,
                    fk.referred_table.name,
                    tuple(e.column.name for e in fk.elements),
                )
                for fk in table.foreign_key_constraints
            ),
        )
        result[info] = rows()
    return result
