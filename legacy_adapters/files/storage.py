"""How decoded columns are stored in the loaded SQLite table, so the SQL source can reflect them.

| column    | declared type   | stored as                                               |
| --------- | --------------- | ------------------------------------------------------- |
| text      | TEXT            | text                                                    |
| char(n)   | CHAR(n)         | text with its pad spaces (reflected as fixed length)    |
| integer   | INTEGER         | 64-bit integer                                          |
| decimal   | NUMERIC(p, s)   | SQLite number: exact, see below                         |
| float     | REAL            | double                                                  |
| date      | DATE            | ISO text `YYYY-MM-DD`                                   |
| datetime  | DATETIME        | ISO text `YYYY-MM-DD HH:MM:SS[.ffffff]`                 |
| boolean   | BOOLEAN         | 0 / 1                                                   |
| bytes     | BLOB            | bytes                                                   |

Decimals: a `NUMERIC(p, s)` column keeps numbers as SQLite numbers, so they
compare and sort as numbers and filters on them use the index. A whole value
is stored as an exact 64-bit integer; any other value as a double, which holds
every decimal of up to 15 significant digits exactly (reading it back with
the column's scale, as SQLAlchemy's `Numeric(p, s)` does, gives the same
`Decimal`). A value with a fraction and more than 15 significant digits
(or a whole value beyond 64 bits) cannot be kept exactly this way: it is a
record error, never a rounded value.

Statements are built with SQLAlchemy Core and compiled for SQLite once; the
loader runs them through `sqlite3.executemany`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from legacy_adapters.files.records import Column, Row

EXACT_DIGITS = 15
INT64 = 2**63
QUARANTINE_TABLE = "lw_quarantine"
REPORT_TABLE = "lw_load_report"
DIALECT = sqlite.dialect()


class StorageError(ValueError):
    """A decoded value the table cannot hold exactly; `field` names its column."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def sql_type(column: Column) -> sa.types.TypeEngine:
    kind = column.type
    if kind == "char":
        return sa.CHAR(column.length)
    if kind == "integer":
        return sa.Integer()
    if kind == "decimal":
        return sa.Numeric(column.precision or EXACT_DIGITS, column.scale)
    if kind == "float":
        return sa.REAL()
    if kind == "date":
        return sa.Date()
    if kind == "datetime":
        return sa.DateTime()
    if kind == "boolean":
        return sa.Boolean()
    if kind == "bytes":
        return sa.LargeBinary()
    return sa.Text()


def data_table(
    name: str, columns: Sequence[Column], key: Sequence[str], metadata: sa.MetaData
) -> sa.Table:
    cols = [
        sa.Column(c.name, sql_type(c), autoincrement=False, nullable=c.nullable) for c in columns
    ]
    constraints = [sa.PrimaryKeyConstraint(*key)] if key else []
    return sa.Table(name, metadata, *cols, *constraints)


def quarantine_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        QUARANTINE_TABLE,
        metadata,
        sa.Column("record", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("line", sa.Integer),
        sa.Column("offset", sa.Integer, nullable=False),
        sa.Column("field", sa.Text),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("raw_base64", sa.Text, nullable=False),
    )


def report_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        REPORT_TABLE,
        metadata,
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("checksum", sa.Text, nullable=False),
        sa.Column("loaded_at", sa.Text, nullable=False),
        sa.Column("table_name", sa.Text, nullable=False),
        sa.Column("rows_loaded", sa.Integer, nullable=False),
        sa.Column("records_rejected", sa.Integer, nullable=False),
        sa.Column("records_skipped", sa.Integer, nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
    )


def ddl(element: Any) -> str:
    return str(element.compile(dialect=DIALECT))


def insert_sql(table: sa.Table) -> str:
    return str(sa.insert(table).compile(dialect=DIALECT))


def data_insert_sql(
    table: sa.Table,
    columns: Sequence[Column],
    *,
    ignore: bool = False,
    rows: int = 1,
    empty: bool = True,
) -> str:
    """The insert of `rows` decoded rows: an empty text in a typed nullable column is NULL.

    Adapted values are never empty texts there; a `StorageRun` row has `""`
    for an absent number or date (`empty=False`: no value is `""`, bind as
    is). `ignore`: rows the table refuses are skipped.
    """
    values = []
    for n in range(rows):
        row = {}
        for column in columns:
            value: Any = sa.bindparam(f"{column.name}_{n}")
            if empty and column.nullable and column.type not in ("text", "char", "bytes"):
                value = sa.func.nullif(value, sa.literal_column("''"))
            row[column.name] = value
        values.append(row)
    insert = sa.insert(table).values(values if rows > 1 else values[0])
    if ignore:
        insert = insert.prefix_with("OR IGNORE")
    return str(insert.compile(dialect=DIALECT))


def _decimal(name: str) -> Callable[[Decimal | None], Any]:
    def store(value: Decimal | None) -> Any:
        if value is None:
            return None
        text = str(value)
        if len(text) <= EXACT_DIGITS + 1:  # at most 15 digits, or a whole number
            return text
        if value == value.to_integral_value() and -INT64 <= value < INT64:
            return int(value)
        if len(value.as_tuple().digits) > EXACT_DIGITS:
            raise StorageError(
                name,
                f"{text} has more than {EXACT_DIGITS} significant digits and is not a "
                "64-bit integer: SQLite cannot keep it exactly as a number",
            )
        return text

    return store


def _date(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _datetime(value: Any) -> str | None:
    return None if value is None else value.isoformat(" ")


def row_adapter(columns: Sequence[Column], key: Sequence[str]) -> Callable[[Row], Row]:
    """A function turning a decoded row into the values to bind; raises StorageError.

    Key columns must not be null.
    """
    namespace: dict[str, Any] = {"StorageError": StorageError}
    items = []
    checks = []
    for i, column in enumerate(columns):
        value = f"row[{i}]"
        if column.type == "decimal":
            namespace[f"a{i}"] = _decimal(column.name)
            value = f"a{i}(row[{i}])"
        elif column.type in ("date", "datetime"):
            namespace[f"a{i}"] = _date if column.type == "date" else _datetime
            value = f"a{i}(row[{i}])"
        items.append(value)
        if column.name in key:
            namespace[f"n{i}"] = column.name
            checks.append(
                f"    if row[{i}] is None:\n"
                f"        raise StorageError(n{i}, 'key column ' + n{i} + ' has no value')\n"
            )
    if not checks and all(item == f"row[{i}]" for i, item in enumerate(items)):
        return lambda row: row
    source = "def adapt(row):\n" + "".join(checks) + f"    return ({', '.join(items)},)\n"
    exec(compile(source, "<row adapter>", "exec"), namespace)
    return namespace["adapt"]


__all__ = [
    "QUARANTINE_TABLE",
    "REPORT_TABLE",
    "StorageError",
    "data_table",
    "quarantine_table",
    "report_table",
    "row_adapter",
]
