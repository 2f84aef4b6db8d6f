"""The compliance data set as file exports: one Visual FoxPro DBF per table (it is
the export format that holds NULL in every column type), loaded by a files source."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from legacy_adapters.files.source import FilesSource
from wrapper.config.files import ExportConfig

from ..files import dbf_files as dbf
from . import dataset

KEYS = {"OWNERS": ("OWNER_ID",), "ITEMS": ("ID",), "PARTS": ("ITEM_ID", "LINE"), "DUPS": ()}
SORTS = {"ITEMS": (("CODE", "DUE"),)}


def _field(column: sa.Column) -> dbf.Field:
    flags = 0x02 if column.nullable and not column.primary_key else 0
    kind = column.type
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Integer):
        return dbf.Field(column.name, "N", kind.precision + 3, kind.scale, flags)
    if isinstance(kind, sa.Integer):
        return dbf.Field(column.name, "N", 10, 0, flags)
    if isinstance(kind, sa.Date):
        return dbf.Field(column.name, "D", 8, 0, flags)
    return dbf.Field(column.name, "C", kind.length, 0, flags)


def _value(field: dbf.Field, value: Any) -> bytes:
    if value is None:
        return b" " * field.length
    if field.type == "D":
        assert isinstance(value, date)
        return dbf.day(value)
    if field.type == "N":
        text = f"{value:.{field.decimals}f}" if isinstance(value, Decimal) else str(value)
        return dbf.numeric(text, field.length)
    return dbf.char(value, field.length)


def table_bytes(table: sa.Table, rows: list[tuple]) -> bytes:
    fields = [_field(c) for c in table.columns]
    nullable = [f for f in fields if f.flags & 0x02]
    flags = dbf.Field("_NullFlags", "0", 1, 0, 0x05)
    records = []
    for row in rows:
        bits = sum(
            1 << nullable.index(f)
            for f, v in zip(fields, row, strict=True)
            if f in nullable and v is None
        )
        values = [_value(f, v) for f, v in zip(fields, row, strict=True)]
        records.append((False, [*values, bytes([bits])]))
    return dbf.table(dbf.VFP, [*fields, flags], records)


def build(folder: Path) -> FilesSource:
    specs = []
    for ref, rows in dataset.ROWS.items():
        table = dataset.metadata.tables[ref.name]
        drop = folder / "drops" / ref.name
        drop.mkdir(parents=True)
        (drop / f"{ref.name.lower()}.dbf").write_bytes(table_bytes(table, rows()))
        specs.append(
            ExportConfig(
                table=ref.name,
                path=f"{drop}/",
                format="dbf",
                key=KEYS[ref.name],
                sort=SORTS.get(ref.name, ()),
            )
        )
    return FilesSource(specs, folder / "store", check_interval=None)
