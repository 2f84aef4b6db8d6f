"""Reflection and failure behaviour every adapter shares."""

from __future__ import annotations

import pytest

from legacy_adapters.base import (
    Condition,
    Schema,
    SchemaMismatch,
    Select,
    Source,
    SourceError,
    TableRef,
)

from .dataset import DUPS, ITEMS, OWNERS, PARTS


def test_reflects_columns_keys_indexes_and_foreign_keys(source: Source) -> None:
    schema = source.reflect(tables=[ITEMS, PARTS, DUPS, OWNERS])
    assert isinstance(schema, Schema)
    tables = {t.ref: t for t in schema.tables}
    assert set(tables) == {ITEMS, PARTS, DUPS, OWNERS}
    items = tables[ITEMS]
    assert [c.name for c in items.columns] == [
        "ID", "NAME", "QTY", "PRICE", "DUE", "CODE", "SHIPPED", "OWNER_ID",
    ]  # fmt: skip
    assert items.primary_key == ("ID",)
    # an index led by (CODE, DUE); a files source's index ends with the key as well
    assert ("CODE", "DUE") in [ix.columns[:2] for ix in items.indexes]
    qty = items.column("QTY")
    assert qty is not None and qty.nullable and qty.python_type == "int"
    assert items.column("PRICE").python_type == "decimal"
    assert items.column("SHIPPED").python_type == "date"
    assert tables[PARTS].primary_key == ("ITEM_ID", "LINE")
    assert tables[DUPS].primary_key == ()
    if "loaded_exports" in source.capabilities.extra:
        return  # the export's own types, keys and indexes; no other constraints to reflect
    code = items.column("CODE")
    assert code is not None and code.fixed_length and code.length == 4 and not code.nullable
    fk = {f.referred_table: f for f in items.foreign_keys}["OWNERS"]
    assert (fk.columns, fk.referred_columns) == (("OWNER_ID",), ("OWNER_ID",))


def test_reflects_only_what_is_asked(source: Source) -> None:
    schema = source.reflect(tables=[ITEMS, TableRef("NO_SUCH_TABLE")])
    assert [t.ref for t in schema.tables] == [ITEMS]


def test_unknown_table_or_column_is_a_schema_mismatch(source: Source) -> None:
    with pytest.raises(SchemaMismatch):
        source.select(Select(TableRef("NO_SUCH_TABLE"), ("A",)))
    with pytest.raises(SourceError):
        source.select(Select(ITEMS, ("NO_SUCH_COLUMN",)))
    with pytest.raises(SourceError):
        source.select(Select(ITEMS, ("ID",), (Condition("NO_SUCH_COLUMN", "eq", 1),)))


def test_ping(source: Source) -> None:
    source.ping()
