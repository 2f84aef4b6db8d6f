"""Reflected SQLAlchemy tables as the contract's plain `TableInfo` objects."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import exc

from legacy_adapters.base import ColumnInfo, ForeignKeyInfo, IndexInfo, TableInfo, TableRef

_PYTHON_TYPES = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    bytes: "bytes",
}


def table_info(ref: TableRef, table: sa.Table, kind: str) -> TableInfo:
    columns = tuple(_column_info(c) for c in table.columns)
    indexes = tuple(
        IndexInfo(
            str(ix.name) if ix.name else None,
            tuple(str(c.name) for c in ix.columns),
            bool(ix.unique),
        )
        for ix in sorted(table.indexes, key=lambda i: i.name or "")
    )
    fks = tuple(
        ForeignKeyInfo(
            columns=tuple(str(fk.parent.name) for fk in con.elements),
            referred_schema=con.referred_table.schema,
            referred_table=str(con.referred_table.name),
            referred_columns=tuple(str(fk.column.name) for fk in con.elements),
        )
        for con in table.foreign_key_constraints
    )
    return TableInfo(
        ref=ref,
        kind=kind,  # type: ignore[arg-type]
        columns=columns,
        primary_key=tuple(str(c.name) for c in table.primary_key.columns),
        indexes=indexes,
        foreign_keys=fks,
    )


def _column_info(col: sa.Column) -> ColumnInfo:
    col_type = col.type
    try:
        py = col_type.python_type
        python_type = _PYTHON_TYPES.get(py, py.__name__.lower())
    except NotImplementedError:
        python_type = "unknown"
    length = getattr(col_type, "length", None)
    fixed = isinstance(col_type, sa.CHAR | sa.NCHAR) or type(col_type).__name__ in (
        "CHAR",
        "NCHAR",
        "BPCHAR",
    )
    try:
        type_text = str(col_type.compile())
    except exc.CompileError:
        type_text = type(col_type).__name__
    return ColumnInfo(
        name=str(col.name),
        type=type_text,
        nullable=bool(col.nullable) and not col.primary_key,
        python_type=python_type,
        length=length if isinstance(length, int) else None,
        fixed_length=fixed,
    )
