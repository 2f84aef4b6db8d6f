"""Reflection through the ODBC catalog functions (SQLTables, SQLColumns,
SQLPrimaryKeys, SQLForeignKeys, SQLStatistics), into the plain objects of
`legacy_adapters.base` and the `sa.Table`s statements are built from.

Types: the ODBC SQL type code a driver reports is the starting point; the
driver's type name refines it when it is a standard name (SQLite's driver
reports `CHAR(6)` as SQL_VARCHAR with the type name `CHAR(6)`, and
`NUMERIC(9, 2)` as SQL_DOUBLE). Tables are built with generic SQLAlchemy
types only, which carry the reflected length and scale.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from legacy_adapters.base import ColumnInfo, ForeignKeyInfo, IndexInfo, TableInfo, TableRef

# ODBC SQL type codes (sql.h, sqlext.h)
SQL_CHAR, SQL_VARCHAR, SQL_LONGVARCHAR = 1, 12, -1
SQL_WCHAR, SQL_WVARCHAR, SQL_WLONGVARCHAR = -8, -9, -10
SQL_DECIMAL, SQL_NUMERIC = 3, 2
SQL_SMALLINT, SQL_INTEGER, SQL_BIGINT, SQL_TINYINT, SQL_BIT = 5, 4, -5, -6, -7
SQL_REAL, SQL_FLOAT, SQL_DOUBLE = 7, 6, 8
SQL_BINARY, SQL_VARBINARY, SQL_LONGVARBINARY = -2, -3, -4
SQL_DATE, SQL_TIME, SQL_TIMESTAMP = 9, 10, 11
SQL_TYPE_DATE, SQL_TYPE_TIME, SQL_TYPE_TIMESTAMP = 91, 92, 93
SQL_GUID = -11

_TABLE_TYPES = {"TABLE": "table", "BASE TABLE": "table", "VIEW": "view"}
_TABLE_TYPES |= {"MATERIALIZED VIEW": "view", "MATVIEW": "view"}

_KINDS: dict[int, str] = {
    SQL_CHAR: "char", SQL_WCHAR: "nchar", SQL_VARCHAR: "varchar", SQL_WVARCHAR: "nvarchar",
    SQL_LONGVARCHAR: "text", SQL_WLONGVARCHAR: "text",
    SQL_DECIMAL: "decimal", SQL_NUMERIC: "decimal",
    SQL_SMALLINT: "smallint", SQL_INTEGER: "int", SQL_BIGINT: "bigint", SQL_TINYINT: "smallint",
    SQL_BIT: "bool", SQL_REAL: "float", SQL_FLOAT: "float", SQL_DOUBLE: "float",
    SQL_BINARY: "binary", SQL_VARBINARY: "binary", SQL_LONGVARBINARY: "binary",
    SQL_DATE: "date", SQL_TYPE_DATE: "date", SQL_TIME: "time", SQL_TYPE_TIME: "time",
    SQL_TIMESTAMP: "datetime", SQL_TYPE_TIMESTAMP: "datetime", SQL_GUID: "varchar",
}  # fmt: skip

# Standard type names (what a driver's TYPE_NAME says when it says a declared type).
_NAMES: dict[str, str] = {
    "CHAR": "char", "CHARACTER": "char", "BPCHAR": "char", "NCHAR": "nchar",
    "VARCHAR": "varchar", "CHARACTER VARYING": "varchar", "VARCHAR2": "varchar",
    "NVARCHAR": "nvarchar", "NVARCHAR2": "nvarchar", "TEXT": "text", "CLOB": "text",
    "DECIMAL": "decimal", "NUMERIC": "decimal", "NUMBER": "decimal",
    "INTEGER": "int", "INT": "int", "SMALLINT": "smallint", "BIGINT": "bigint",
    "REAL": "float", "FLOAT": "float", "DOUBLE": "float", "DOUBLE PRECISION": "float",
    "DATE": "date", "TIME": "time", "TIMESTAMP": "datetime", "DATETIME": "datetime",
    "BOOLEAN": "bool", "BLOB": "binary",
}  # fmt: skip

_PYTHON = {
    "char": "str", "nchar": "str", "varchar": "str", "nvarchar": "str", "text": "str",
    "decimal": "decimal", "int": "int", "smallint": "int", "bigint": "int", "float": "float",
    "bool": "bool", "binary": "bytes", "date": "date", "time": "time", "datetime": "datetime",
}  # fmt: skip

_DECLARED = re.compile(r"^\s*([A-Za-z][A-Za-z0-9 ]*?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")


@dataclass(frozen=True)
class ReflectedColumn:
    info: ColumnInfo
    kind: str
    precision: int | None
    scale: int | None


def column(row: Any, primary_key: Iterable[str]) -> ReflectedColumn:
    """A SQLColumns row as a column: its kind, length, precision and scale."""
    name = str(row.column_name)
    type_name = str(row.type_name or "")
    kind = _KINDS.get(int(row.data_type), "unknown")
    size = _int(row.column_size)
    scale = _int(row.decimal_digits)
    match = _DECLARED.match(type_name)
    if match and match.group(1).upper() in _NAMES:
        kind = _NAMES[match.group(1).upper()]
        if match.group(2):
            size = int(match.group(2))
            scale = int(match.group(3)) if match.group(3) else (0 if kind == "decimal" else None)
    text_kind = kind in ("char", "nchar", "varchar", "nvarchar")
    type_text = type_name or kind.upper()
    if "(" not in type_text and (text_kind or kind == "decimal") and size:
        type_text += f"({size})" if text_kind or scale is None else f"({size}, {scale})"
    info = ColumnInfo(
        name=name,
        type=type_text,
        nullable=int(row.nullable or 0) != 0 and name not in set(primary_key),
        python_type=_PYTHON.get(kind, "unknown"),
        length=size if text_kind else None,
        fixed_length=kind in ("char", "nchar"),
    )
    return ReflectedColumn(info, kind, size if kind == "decimal" else None, scale)


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) else None


def sa_type(col: ReflectedColumn) -> sa.types.TypeEngine[Any]:
    """The generic SQLAlchemy type of a reflected column."""
    length = col.info.length
    match col.kind:
        case "char":
            return sa.CHAR(length)
        case "nchar":
            return sa.NCHAR(length)
        case "varchar":
            return sa.VARCHAR(length)
        case "nvarchar":
            return sa.NVARCHAR(length)
        case "text":
            return sa.Text()
        case "decimal":
            return sa.Numeric(col.precision, col.scale)
        case "int":
            return sa.Integer()
        case "smallint":
            return sa.SmallInteger()
        case "bigint":
            return sa.BigInteger()
        case "float":
            return sa.Float()
        case "bool":
            return sa.Boolean()
        case "binary":
            return sa.LargeBinary()
        case "date":
            return sa.Date()
        case "time":
            return sa.Time()
        case "datetime":
            return sa.DateTime()
    return sa.types.NullType()


def table_kind(table_type: str | None) -> str | None:
    return _TABLE_TYPES.get((table_type or "").upper())


def indexes(rows: Iterable[Any], primary_key: tuple[str, ...]) -> tuple[IndexInfo, ...]:
    """SQLStatistics rows as indexes; the primary key's own index is left out."""
    found: dict[str, tuple[bool, list[tuple[int, str]]]] = {}
    for row in rows:
        if row.index_name is None or row.column_name is None or row.type == 0:
            continue
        unique, cols = found.setdefault(str(row.index_name), (not row.non_unique, []))
        cols.append((int(row.ordinal_position), str(row.column_name)))
    result = []
    for name, (unique, cols) in sorted(found.items()):
        names = tuple(c for _, c in sorted(cols))
        if unique and names == primary_key:
            continue
        result.append(IndexInfo(name, names, unique))
    return tuple(result)


def foreign_keys(rows: Iterable[Any], same_schema: set[str | None]) -> tuple[ForeignKeyInfo, ...]:
    """SQLForeignKeys rows grouped by constraint (by name, or by a KEY_SEQ of 1 when
    the driver names none). A referred schema equal to the table's own is None."""
    groups: list[list[Any]] = []
    by_name: dict[str, list[Any]] = {}
    for row in sorted(rows, key=lambda r: (r.fk_name or "", r.pktable_name, int(r.key_seq))):
        if row.fk_name:
            group = by_name.get(row.fk_name)
            if group is None:
                group = by_name[row.fk_name] = []
                groups.append(group)
            group.append(row)
        elif int(row.key_seq) == 1 or not groups:
            groups.append([row])
        else:
            groups[-1].append(row)
    result = []
    for group in groups:
        first = group[0]
        schema = first.pktable_schem or first.pktable_cat
        result.append(
            ForeignKeyInfo(
                columns=tuple(str(r.fkcolumn_name) for r in group),
                referred_schema=None if schema in same_schema or not schema else str(schema),
                referred_table=str(first.pktable_name),
                referred_columns=tuple(str(r.pkcolumn_name) for r in group),
            )
        )
    return tuple(result)


def build_table(
    metadata: sa.MetaData,
    ref: TableRef,
    columns: list[ReflectedColumn],
    primary_key: tuple[str, ...],
) -> sa.Table:
    return sa.Table(
        ref.name,
        metadata,
        *(
            sa.Column(
                c.info.name,
                sa_type(c),
                primary_key=c.info.name in primary_key,
                nullable=c.info.nullable,
                autoincrement=False,
            )
            for c in columns
        ),
        schema=ref.schema,
    )


def table_info(
    ref: TableRef,
    kind: str,
    columns: list[ReflectedColumn],
    primary_key: tuple[str, ...],
    index_rows: Iterable[Any],
    fk_rows: Iterable[Any],
    same_schema: set[str | None],
) -> TableInfo:
    return TableInfo(
        ref=ref,
        kind=kind,  # type: ignore[arg-type]
        columns=tuple(c.info for c in columns),
        primary_key=primary_key,
        indexes=indexes(index_rows, primary_key),
        foreign_keys=foreign_keys(fk_rows, same_schema),
    )
