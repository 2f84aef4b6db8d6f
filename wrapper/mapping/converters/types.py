"""The type table: for each type reflection reports, on each backend, what it
becomes in the API.

One row per database type (names as SQLite, PostgreSQL, MariaDB/MySQL and ODBC
catalogs report them, upper case, without length or precision):

- `converter`: what `init` writes and inference chooses (the JSON form and
  OpenAPI schema are the converter's, see `json_schema()`);
- `capabilities`: the filters the *database* can evaluate on this type
  (`equality`, `order`, `pattern`, `null`); a converter declared on the column
  never gets more (no `like` on a uuid, no `=` on xml);
- `sortable`: ORDER BY is meaningful and agrees with the comparisons a keyset
  cursor makes (MySQL sorts an ENUM by its position but compares it as text:
  not sortable);
- `cursor`: a value can be carried in a keyset cursor and compared again
  (a keyless table pages over these columns only).

A type not in the table is looked up by the Python type the driver returns;
anything else is served through `str()` (`as_text`), never a 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from legacy_adapters.base import ColumnInfo
from wrapper.mapping.converters.base import EQUALITY, NULL_ONLY, ORDERED, TEXT
from wrapper.operators import Capability

Caps = frozenset[Capability]


@dataclass(frozen=True)
class TypeEntry:
    converter: str  # the converter name inference chooses (`trim` for CHAR(n) text)
    json: str  # the JSON form, in words (README, `inspect`)
    capabilities: Caps
    sortable: bool = True
    cursor: bool = True

    @property
    def orders(self) -> bool:
        """Can be offered as `sort`: sorts in the database and rides in a cursor."""
        return self.sortable and self.cursor


_TEXT = TypeEntry("string", "string", TEXT)
_INTEGER = TypeEntry("integer", "integer", ORDERED)
_NUMBER = TypeEntry("number", "number (decimals exact)", ORDERED)
_BOOLEAN = TypeEntry("native_boolean", "boolean", EQUALITY)
_DATE = TypeEntry("native_date", "string, format date", ORDERED)
_TIME = TypeEntry("native_time", "string HH:MM:SS[.ffffff][offset]", ORDERED)
_TIMESTAMP = TypeEntry("timestamp", "string YYYY-MM-DDTHH:MM:SS[.ffffff], no offset", ORDERED)
_TIMESTAMPTZ = TypeEntry("timestamptz", "string, format date-time (with offset)", ORDERED)
_INTERVAL = TypeEntry("duration", "string, ISO 8601 duration", ORDERED)
_UUID = TypeEntry("uuid", "string, format uuid", ORDERED)
_JSON = TypeEntry("json", "any JSON value", NULL_ONLY, sortable=False, cursor=False)
_ARRAY = TypeEntry("array", "array", NULL_ONLY, sortable=False, cursor=False)
_BYTES = TypeEntry("bytes", "string, base64", NULL_ONLY, sortable=False, cursor=False)
_GEOMETRY = TypeEntry("geometry", "GeoJSON geometry object", NULL_ONLY, False, False)
_RANGE = TypeEntry("range", 'string "[lower,upper)"', NULL_ONLY, sortable=False, cursor=False)
_XML = TypeEntry("xml", "string", NULL_ONLY, sortable=False, cursor=False)
_TSVECTOR = TypeEntry("tsvector", "string", NULL_ONLY, sortable=False, cursor=False)
_AS_TEXT = TypeEntry("as_text", "string (the value's text)", NULL_ONLY, False, False)

# Every backend (and the generic SQL and ODBC type names).
_COMMON: dict[str, TypeEntry] = {
    **dict.fromkeys(
        (
            "CHAR",
            "CHARACTER",
            "NCHAR",
            "BPCHAR",
            "VARCHAR",
            "CHARACTER VARYING",
            "NVARCHAR",
            "VARCHAR2",
            "NVARCHAR2",
            "TEXT",
            "NTEXT",
            "CLOB",
            "NCLOB",
            "LONGVARCHAR",
            "WCHAR",
            "WVARCHAR",
            "WLONGVARCHAR",
            "TINYTEXT",
            "MEDIUMTEXT",
            "LONGTEXT",
            "STRING",
            "CITEXT",
            "NAME",
            "LONG VARCHAR",
            "LVARCHAR",
            "GRAPHIC",
            "VARGRAPHIC",
        ),
        _TEXT,
    ),
    **dict.fromkeys(
        (
            "SMALLINT",
            "INT2",
            "INTEGER",
            "INT",
            "INT4",
            "BIGINT",
            "INT8",
            "TINYINT",
            "MEDIUMINT",
            "SERIAL",
            "BIGSERIAL",
            "SMALLSERIAL",
            "YEAR",
            "COUNTER",
        ),
        _INTEGER,
    ),
    **dict.fromkeys(("NUMERIC", "DECIMAL", "NUMBER", "DEC", "SMALLMONEY"), _NUMBER),
    **dict.fromkeys(("REAL", "FLOAT", "FLOAT4", "FLOAT8", "DOUBLE", "DOUBLE PRECISION"), _NUMBER),
    **dict.fromkeys(("BOOLEAN", "BOOL", "BIT", "LOGICAL"), _BOOLEAN),
    "DATE": _DATE,
    **dict.fromkeys(
        ("TIME", "TIMETZ", "TIME WITHOUT TIME ZONE", "TIME WITH TIME ZONE", "TYPE_TIME"), _TIME
    ),
    **dict.fromkeys(
        (
            "TIMESTAMP",
            "DATETIME",
            "DATETIME2",
            "SMALLDATETIME",
            "TIMESTAMP WITHOUT TIME ZONE",
            "TYPE_TIMESTAMP",
        ),
        _TIMESTAMP,
    ),
    **dict.fromkeys(
        (
            "TIMESTAMPTZ",
            "TIMESTAMP WITH TIME ZONE",
            "DATETIMEOFFSET",
            "TIMESTAMP WITH LOCAL TIME ZONE",
        ),
        _TIMESTAMPTZ,
    ),
    "INTERVAL": _INTERVAL,
    **dict.fromkeys(("UUID", "UNIQUEIDENTIFIER", "GUID"), _UUID),
    **dict.fromkeys(("JSON", "JSONB"), _JSON),
    "ARRAY": _ARRAY,
    **dict.fromkeys(
        (
            "BLOB",
            "BYTEA",
            "BINARY",
            "VARBINARY",
            "LONGVARBINARY",
            "TINYBLOB",
            "MEDIUMBLOB",
            "LONGBLOB",
            "IMAGE",
            "RAW",
            "LONG RAW",
            "BINARY VARYING",
        ),
        _BYTES,
    ),
    **dict.fromkeys(
        (
            "GEOMETRY",
            "GEOGRAPHY",
            "POINT",
            "LINESTRING",
            "POLYGON",
            "MULTIPOINT",
            "MULTILINESTRING",
            "MULTIPOLYGON",
            "GEOMETRYCOLLECTION",
        ),
        _GEOMETRY,
    ),
    "XML": _XML,
    **dict.fromkeys(("TSVECTOR", "TSQUERY"), _TSVECTOR),
}

# Single-precision floats come back as a double that differs from the stored
# value: compared again (`=`, or in a cursor) they would miss rows.
_FLOAT4 = TypeEntry("number", "number", frozenset({"order", "null"}), True, False)

_POSTGRESQL: dict[str, TypeEntry] = {
    **dict.fromkeys(("REAL", "FLOAT4"), _FLOAT4),
    # The driver counts a month as 30 days and a year as 365, PostgreSQL compares
    # a year as 360: an interval read back is not the one stored, so no cursor.
    "INTERVAL": TypeEntry("duration", "string, ISO 8601 duration", ORDERED, True, False),
    "MONEY": TypeEntry("string", "string, as PostgreSQL formats money", ORDERED),
    **dict.fromkeys(
        ("BIT", "VARBIT", "BIT VARYING"),
        TypeEntry("string", "string of 0/1", EQUALITY, False, False),
    ),
    "ENUM": TypeEntry("string", "string (one of the enum's labels)", ORDERED),
    **dict.fromkeys(
        ("INET", "CIDR", "MACADDR", "MACADDR8"), TypeEntry("string", "string", ORDERED)
    ),
    **dict.fromkeys(
        (
            "INT4RANGE",
            "INT8RANGE",
            "NUMRANGE",
            "TSRANGE",
            "TSTZRANGE",
            "DATERANGE",
            "INT4MULTIRANGE",
            "INT8MULTIRANGE",
            "NUMMULTIRANGE",
            "TSMULTIRANGE",
            "TSTZMULTIRANGE",
            "DATEMULTIRANGE",
        ),
        _RANGE,
    ),
    # PostgreSQL's own geometric types: only `point` has a GeoJSON form.
    **dict.fromkeys(("LINE", "LSEG", "BOX", "PATH", "POLYGON", "CIRCLE"), _AS_TEXT),
    "DOMAIN": _AS_TEXT,  # a domain whose base type reflection did not report
}

_MYSQL: dict[str, TypeEntry] = {
    # Sorted by position in the ENUM, compared as text: never in a cursor.
    "ENUM": TypeEntry("string", "string (one of the ENUM's values)", EQUALITY, False, False),
    "SET": TypeEntry("set", "array of strings", NULL_ONLY, sortable=False, cursor=False),
    "BIT": TypeEntry("bits", "integer (BIT(1): boolean)", EQUALITY, sortable=False, cursor=False),
    "FLOAT": _FLOAT4,  # single precision
}

# SQLite keeps timestamps and times as text in whatever form the application
# wrote (`T` or a space, with or without fractions); a value written in another
# form never compares equal, so only `isnull` filters and no cursor.
_SQLITE_TEXT_TIME = dict(capabilities=NULL_ONLY, sortable=False, cursor=False)
_SQLITE: dict[str, TypeEntry] = {
    **dict.fromkeys(
        ("TIMESTAMP", "DATETIME", "DATETIME2", "SMALLDATETIME"),
        TypeEntry("timestamp", _TIMESTAMP.json, **_SQLITE_TEXT_TIME),
    ),
    **dict.fromkeys(("TIME",), TypeEntry("native_time", _TIME.json, **_SQLITE_TEXT_TIME)),
}
# A SQLite column without a declared type (a view's computed column): SQLite
# orders and compares any two values the same way, so it pages like any other.
_SQLITE_UNTYPED = TypeEntry("as_text", "string (the value's text)", NULL_ONLY, True, True)

_BACKENDS = {"postgresql": _POSTGRESQL, "mysql": _MYSQL, "sqlite": _SQLITE}

_BY_PYTHON: dict[str, TypeEntry] = {
    "str": TypeEntry("string", "string", ORDERED),
    "int": _INTEGER,
    "decimal": _NUMBER,
    "float": _NUMBER,
    "bool": _BOOLEAN,
    "date": _DATE,
    "time": _TIME,
    "datetime": _TIMESTAMP,
    "timedelta": _INTERVAL,
    "uuid": _UUID,
    "bytes": _BYTES,
    "list": _ARRAY,
    "dict": _JSON,
}

_ARGUMENTS = re.compile(r"\([^)]*\)")
_TRAILING = re.compile(r"\s+(COLLATE|CHARACTER SET|CHARSET)\s.*$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def backend(dialect: str) -> str:
    """`postgresql`, `mysql` (MariaDB too), `sqlite` or `generic`, for a source's
    dialect (ODBC sources report `odbc:<profile>`)."""
    name = dialect.lower().removeprefix("odbc:")
    if name in ("mysql", "mariadb"):
        return "mysql"
    if name.startswith("postgres"):
        return "postgresql"
    return name if name == "sqlite" else "generic"


@dataclass(frozen=True)
class ReflectedType:
    """A reflected type name taken apart: `BIGINT UNSIGNED`, `CHAR(10) COLLATE x`,
    `TEXT[]`, `_int4`."""

    family: str
    unsigned: bool
    array_of: str | None


def reflected_type(type_text: str) -> ReflectedType:
    text = _TRAILING.sub("", type_text.strip())
    text = _SPACES.sub(" ", _ARGUMENTS.sub("", text)).strip().upper()
    array_of = None
    if text.endswith("[]"):
        array_of, text = text[:-2].strip(), "ARRAY"
    elif text.startswith("_") and len(text) > 1:  # PostgreSQL's name for an array type
        array_of, text = text[1:], "ARRAY"
    unsigned = False
    for word in (" UNSIGNED", " ZEROFILL", " SIGNED"):
        if word in text:
            unsigned = unsigned or word == " UNSIGNED"
            text = text.replace(word, "")
    return ReflectedType(text.strip() or "NULL", unsigned, array_of)


def family_of(column: ColumnInfo) -> str:
    """The column's type family: as the source reports it, else read from its type name."""
    return column.family or reflected_type(column.type).family


def column_type(column: ColumnInfo, dialect: str = "generic") -> TypeEntry:
    """The type table's row for a reflected column."""
    family = family_of(column)
    entry = _BACKENDS.get(backend(dialect), {}).get(family) or _COMMON.get(family)
    if entry is None:
        entry = _BY_PYTHON.get(column.python_type, _AS_TEXT)
    if entry.converter == "bits" and (column.length or 1) == 1:
        entry = _BOOLEAN  # MySQL's BIT(1) is a flag
    if backend(dialect) == "sqlite":
        if entry.converter == "string":
            entry = _TEXT  # SQLite compares and matches whatever a column holds
        elif entry is _AS_TEXT:
            entry = _SQLITE_UNTYPED
    return entry


_INT_BITS = {
    "TINYINT": 8, "SMALLINT": 16, "INT2": 16, "SMALLSERIAL": 16, "MEDIUMINT": 24,
    "INTEGER": 32, "INT": 32, "INT4": 32, "SERIAL": 32,
    "BIGINT": 64, "INT8": 64, "BIGSERIAL": 64,
}  # fmt: skip


def integer_range(column: ColumnInfo, dialect: str) -> tuple[int, int]:
    """The values a column can hold: a key outside it cannot exist (404), a filter
    value outside it is refused (400) instead of failing in the database."""
    kind = backend(dialect)
    parsed = reflected_type(column.type)
    family = family_of(column)
    if kind == "sqlite" or (column.python_type != "int" and family not in _INT_BITS):
        return -(2**63), 2**63 - 1
    if family == "YEAR":
        return 0, 2155
    bits = _INT_BITS.get(family, 64)
    if parsed.unsigned:
        return 0, 2**bits - 1
    if kind == "mysql":
        # Reflection may not say UNSIGNED: allow both; MySQL compares an
        # out-of-range constant without an error (the row is just not there).
        return -(2 ** (bits - 1)), 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


_ITEMS_BY_FAMILY = {
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "string": {"type": "string"},
    "native_boolean": {"type": "boolean"},
    "native_date": {"type": "string", "format": "date"},
    "uuid": {"type": "string", "format": "uuid"},
}


def array_items(column: ColumnInfo, dialect: str) -> dict[str, str]:
    """The JSON schema of an array column's elements, when reflection names them."""
    element = reflected_type(column.type).array_of
    if element is None:
        return {}
    entry = _BACKENDS.get(backend(dialect), {}).get(element) or _COMMON.get(element)
    return dict(_ITEMS_BY_FAMILY.get(entry.converter, {})) if entry else {}


# Exported for the README's and `inspect`'s benefit: (family, backend) -> entry.
def table_rows() -> list[tuple[str, str, TypeEntry]]:
    rows = [("*", name, entry) for name, entry in _COMMON.items()]
    for kind, entries in _BACKENDS.items():
        rows += [(kind, name, entry) for name, entry in entries.items()]
    return rows
