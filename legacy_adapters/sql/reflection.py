"""Reflected SQLAlchemy tables as the contract's plain `TableInfo` objects.

What a column *is* (its family) is told from the dialect's own type objects,
not from the text a generic compiler makes of them: a PostgreSQL enum is an
`ENUM` with its labels (not the VARCHAR SQLAlchemy would compile it to), a
domain is its base type, and types SQLAlchemy does not know (xml, point,
GEOMETRY) keep the database's name for them (`named_types`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Dialect

from legacy_adapters.base import ColumnInfo, ForeignKeyInfo, IndexInfo, TableInfo, TableRef

_PYTHON_TYPES = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    bytes: "bytes",
}
_ARGUMENTS = re.compile(r"\(.*?\)")


class _NamedType(sa.types.UserDefinedType):  # type: ignore[type-arg]
    """A type the dialect does not know, under the database's own name."""

    cache_ok = True
    type_name = "NULL"

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def get_col_spec(self, **_kw: Any) -> str:
        return self.type_name


def named_types(names: Iterable[str]) -> dict[str, type[_NamedType]]:
    """`ischema_names` entries for types a dialect leaves as NullType, so that
    reflection reports `XML` or `POINT` instead of nothing."""
    return {
        name: type(
            f"{name.title()}Type", (_NamedType,), {"type_name": name.upper(), "cache_ok": True}
        )
        for name in names
    }


def table_info(
    ref: TableRef,
    table: sa.Table,
    kind: str,
    dialect: Dialect | None = None,
) -> TableInfo:
    columns = tuple(column_info(c, dialect) for c in table.columns)
    indexes = [
        IndexInfo(
            str(ix.name) if ix.name else None,
            tuple(str(c.name) for c in ix.columns),
            bool(ix.unique),
        )
        for ix in sorted(table.indexes, key=lambda i: i.name or "")
    ]
    # UNIQUE constraints are not indexes to SQLAlchemy, but they identify rows
    # as well as a unique index does (a table whose only identity is one has a key).
    unique_sets = {ix.columns for ix in indexes if ix.unique}
    for con in sorted(
        (c for c in table.constraints if isinstance(c, sa.UniqueConstraint)),
        key=lambda c: str(c.name or ""),
    ):
        cols = tuple(str(c.name) for c in con.columns)
        if cols and cols not in unique_sets:
            indexes.append(IndexInfo(str(con.name) if con.name else None, cols, True))
            unique_sets.add(cols)
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
        indexes=tuple(indexes),
        foreign_keys=fks,
    )


def _base_type(col_type: sa.types.TypeEngine[Any]) -> sa.types.TypeEngine[Any]:
    """A domain's base type (domains over domains too); any other type itself."""
    seen = 0
    while hasattr(col_type, "data_type") and seen < 8:  # PostgreSQL DOMAIN
        col_type = col_type.data_type  # type: ignore[attr-defined]
        seen += 1
    return col_type


def _compiled(col_type: sa.types.TypeEngine[Any], *dialects: Dialect | None) -> str:
    """The type as SQL, by the first of `dialects` that can compile it (None: the
    generic compiler)."""
    for dialect in dialects:
        try:
            return str(col_type.compile(dialect=dialect))
        except (exc.CompileError, exc.UnsupportedCompilationError, NotImplementedError):
            continue
    return type(col_type).__name__


def column_family(col_type: sa.types.TypeEngine[Any], dialect: Dialect | None = None) -> str:
    """`ENUM`, `NUMERIC`, `TIMESTAMP WITH TIME ZONE`, `XML`, ...: what kind of type,
    in the source dialect's words; empty when the dialect did not recognise it."""
    if isinstance(col_type, sa.Enum):
        return "ENUM"
    if isinstance(col_type, sa.ARRAY):
        return "ARRAY"
    if isinstance(col_type, sa.types.NullType):
        return ""
    text = _compiled(col_type, dialect, None)
    text = _ARGUMENTS.sub("", text).split(" COLLATE ")[0].split(" CHARACTER SET ")[0]
    for word in (" UNSIGNED", " ZEROFILL", " SIGNED"):
        text = text.replace(word, "")
    return " ".join(text.upper().split())


def column_info(col: sa.Column, dialect: Dialect | None = None) -> ColumnInfo:
    declared = col.type
    col_type = _base_type(declared)
    try:
        py = col_type.python_type
        python_type = _PYTHON_TYPES.get(py, py.__name__.lower())
    except NotImplementedError:
        python_type = "str" if isinstance(col_type, _NamedType) else "unknown"
    length = getattr(col_type, "length", None)
    fixed = isinstance(col_type, sa.CHAR | sa.NCHAR) or type(col_type).__name__ in (
        "CHAR",
        "NCHAR",
        "BPCHAR",
    )
    labels: tuple[str, ...] = ()
    # The generic compiler's text, as mappings have always seen it.
    type_text = _compiled(col_type, None, dialect)
    if isinstance(col_type, sa.Enum):
        labels = tuple(str(label) for label in col_type.enums)
        name = getattr(col_type, "name", None)
        if name and dialect is not None and dialect.name == "postgresql":
            type_text = str(name)  # a PostgreSQL enum is a named type of its own
    return ColumnInfo(
        name=str(col.name),
        type=type_text,
        nullable=bool(col.nullable) and not col.primary_key,
        python_type=python_type,
        length=length if isinstance(length, int) else None,
        fixed_length=fixed,
        family=column_family(col_type, dialect),
        labels=labels,
    )
