"""The contract between the facade and every legacy source.

Everything here speaks the *legacy* language: table and column names as the
legacy system spells them, values in their legacy representation. The facade
(`wrapper`) translates modern requests into a `Select` and hands it to a
`Source`; the source runs it and returns plain tuples.

Error tree (sources translate their driver's exceptions into these, at the
boundary, so no driver exception ever reaches the facade)::

    SourceError
    ├── SourceUnavailable   connection refused or lost; the facade answers 503
    │   ├── SourceTimeout   the query or the pool wait ran out of time; 503
    │   └── SourceBusy      the bulkhead is full: too many queries already running; 503
    ├── UnsupportedQuery    the source cannot run this query faithfully; 400
    ├── QueryRejected       the database refused the statement (not an outage); 500,
    │                       the full error in the log, no SQL in the answer
    └── SchemaMismatch      a mapped table or column is not in the source
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args, runtime_checkable

# --------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class ColumnInfo:
    """A reflected column. `type` is the legacy type as the database names it
    (`VARCHAR(40)`, `job_state`); `family` the kind of type it is, upper case and
    without arguments (`VARCHAR`, `ENUM`, `NUMERIC` for a domain over numeric,
    `XML`); empty when the source cannot tell (then `type` is all there is)."""

    name: str
    type: str
    nullable: bool
    python_type: str  # "str", "int", "decimal", "float", "bytes", "date", "datetime", ...
    length: int | None = None  # declared length for CHAR/VARCHAR
    fixed_length: bool = False  # CHAR(n): values may come space-padded
    family: str = ""
    labels: tuple[str, ...] = ()  # an ENUM's labels, in the type's own order


@dataclass(frozen=True)
class IndexInfo:
    name: str | None
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class ForeignKeyInfo:
    columns: tuple[str, ...]
    referred_schema: str | None
    referred_table: str
    referred_columns: tuple[str, ...]


@dataclass(frozen=True)
class TableRef:
    name: str
    schema: str | None = None

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


@dataclass(frozen=True)
class TableInfo:
    ref: TableRef
    kind: Literal["table", "view"]
    columns: tuple[ColumnInfo, ...]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[IndexInfo, ...] = ()
    foreign_keys: tuple[ForeignKeyInfo, ...] = ()

    def column(self, name: str) -> ColumnInfo | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None

    def leading_index_columns(self) -> frozenset[str]:
        """Columns an index can serve as its first column (primary key included)."""
        lead = {ix.columns[0] for ix in self.indexes if ix.columns}
        if self.primary_key:
            lead.add(self.primary_key[0])
        return frozenset(lead)

    def unique_keys(self) -> tuple[tuple[str, ...], ...]:
        keys = [self.primary_key] if self.primary_key else []
        keys += [ix.columns for ix in self.indexes if ix.unique]
        return tuple(keys)


@dataclass(frozen=True)
class Schema:
    """What reflection found: the object `legacy-wrapper inspect` prints."""

    dialect: str
    tables: tuple[TableInfo, ...]

    def table(self, ref: TableRef) -> TableInfo | None:
        for table in self.tables:
            if table.ref == ref:
                return table
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialect": self.dialect,
            "tables": [
                {
                    "schema": t.ref.schema,
                    "name": t.ref.name,
                    "kind": t.kind,
                    "columns": [
                        {"name": c.name, "type": c.type, "nullable": c.nullable}
                        | ({"family": c.family} if c.family else {})
                        | ({"labels": list(c.labels)} if c.labels else {})
                        for c in t.columns
                    ],
                    "primary_key": list(t.primary_key),
                    "indexes": [
                        {"name": i.name, "columns": list(i.columns), "unique": i.unique}
                        for i in t.indexes
                    ],
                    "foreign_keys": [
                        {
                            "columns": list(f.columns),
                            "references": {
                                "schema": f.referred_schema,
                                "table": f.referred_table,
                                "columns": list(f.referred_columns),
                            },
                        }
                        for f in t.foreign_keys
                    ],
                }
                for t in self.tables
            ],
        }


# --------------------------------------------------------------------------- query

LegacyOp = Literal[
    "eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "prefix", "like", "like_rtrim", "isnull"
]  # fmt: skip
LEGACY_OPS: frozenset[str] = frozenset(get_args(LegacyOp))


@dataclass(frozen=True)
class Condition:
    """`column op value` in legacy terms. The memory source (`memory.py`) is the
    executable definition of each operator; every adapter must agree with it.

    - `eq ne lt lte gt gte`: `value` is one legacy value; NULL never matches
      (SQL's three-valued logic: `ne` does not match NULL either).
    - `in`, `not_in`: `value` is a sequence; with a tuple of columns, a sequence
      of tuples. NULL never matches either.
    - `prefix`: `value` is a LIKE pattern ending in `%` (backslash escapes),
      compared with the column's own collation, so an index can serve it.
    - `like`: a LIKE pattern (backslash escapes), case-insensitive; `like_rtrim`
      the same on the value without trailing pad spaces.
    - `isnull`: `value` is `(is_null: bool, sentinels)`: the legacy values that
      also mean "no value" (e.g. a date of 0 or 99999999).
    """

    column: str | tuple[str, ...]
    op: LegacyOp
    value: Any


@dataclass(frozen=True)
class Related:
    """A semi-join: rows whose `columns` equal the `remote` columns of at least
    one row of `table` that satisfies `where` (SQL: `columns IN (SELECT remote FROM
    table WHERE where)`, or an `EXISTS` for several columns). Row rules that follow
    a relation (`order_lines` visible when their `order` is) are written with it."""

    columns: tuple[str, ...]
    table: TableRef
    remote: tuple[str, ...]
    where: tuple[Predicate, ...] = ()


Predicate = Condition | Related


@dataclass(frozen=True)
class Order:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class Select:
    """One legacy read: columns of one table, ANDed conditions, keyset page.

    Keyset paging: when `after` is set, it holds the values of the `order_by`
    columns of the last row already returned. With `skip == 0` the page starts
    strictly after that row (the order is unique); with `skip > 0` the order is
    not unique (a keyless table with exact duplicate rows) and the page starts
    at the first row equal to `after`, skipping the `skip` such rows that were
    already returned. NULL sorts where the source's `capabilities.nulls_sort`
    says (the database's own order, so that its indexes serve the sort).
    """

    table: TableRef
    columns: tuple[str, ...]
    where: tuple[Predicate, ...] = ()
    order_by: tuple[Order, ...] = ()
    after: tuple[Any, ...] | None = None
    skip: int = 0
    limit: int | None = None


# --------------------------------------------------------------------------- errors


class SourceError(Exception):
    """Base of every error a source raises."""


class SourceUnavailable(SourceError):
    """The legacy source cannot be reached right now."""


class SourceTimeout(SourceUnavailable):
    """A query or the wait for a pooled connection ran out of time."""


class SourceBusy(SourceUnavailable):
    """Too many queries are already running against the source (the bulkhead is full)."""


class UnsupportedQuery(SourceError):
    """The source cannot run this query faithfully."""


class QueryRejected(SourceError):
    """The legacy database refused a statement (a permission, a syntax or type the
    DBMS does not accept, a read-only violation): the source works, this query does
    not. Its message may hold SQL: log it, never show it to a caller."""


class SchemaMismatch(SourceError):
    """A table or column the mapping names is not in the source."""


# --------------------------------------------------------------------------- contract


@dataclass(frozen=True)
class Capabilities:
    """What a source can do; tests skip by capability, never by backend name."""

    count_estimate: bool = False
    schemas: bool = False
    read_only_enforced: bool = False
    like_escape: bool = True  # patterns may escape % and _ with a backslash
    unicode_case_fold: bool = True  # `like` folds every letter's case, not only ASCII
    # Where NULL sorts, the database's own choice (its indexes follow it): "greatest"
    # (after every value ascending, first descending) or "least" (the reverse).
    nulls_sort: Literal["greatest", "least"] = "greatest"
    extra: frozenset[str] = field(default_factory=frozenset)


RANGE_CHECKSUMS = "range_checksums"  # in `Capabilities.extra`: the source is a `RangeChecksums`
Key = tuple[Any, ...]  # the legacy values of a key's columns


@runtime_checkable
class RangeChecksums(Protocol):
    """An optional capability for change capture: checksums of key ranges computed
    inside the legacy database (as data-diff does), so an unchanged table costs an
    aggregate query instead of every row. A row's hash is computed by the database
    from its columns; a range's checksum is the exact sum of its rows' hashes, so
    the checksum of a range equals the sum of its parts' checksums.

    Ranges are `lo <= key < hi` in the order of the key's columns (None: unbounded)."""

    def range_checksums(
        self,
        table: TableRef,
        key: tuple[str, ...],
        columns: tuple[str, ...],
        lo: Key | None,
        hi: Key | None,
        bounds: Sequence[Key],
    ) -> dict[int, tuple[int, int]]:
        """The range cut at `bounds` (ascending keys) into `len(bounds) + 1` parts:
        part index -> (row count, checksum), for the parts that hold rows."""
        ...

    def range_rows(
        self,
        table: TableRef,
        key: tuple[str, ...],
        columns: tuple[str, ...],
        lo: Key | None,
        hi: Key | None,
        limit: int | None = None,
    ) -> list[tuple[Any, ...]]:
        """The rows of the range in key order (the first `limit`): `columns`, then
        the row's hash."""
        ...


@runtime_checkable
class Source(Protocol):
    """A legacy source the facade can read from."""

    dialect: str
    capabilities: Capabilities

    def reflect(
        self,
        tables: Iterable[TableRef] | None = None,
        schemas: Sequence[str | None] = (None,),
    ) -> Schema:
        """Reflect the named tables (or every table and view of `schemas`)."""
        ...

    def select(self, query: Select) -> list[tuple[Any, ...]]:
        """Run a query and return rows as tuples in `query.columns` order."""
        ...

    def count(self, query: Select, estimate: bool = False) -> tuple[int, bool]:
        """Count the rows `query.where` matches; returns (count, is_exact)."""
        ...

    def ping(self) -> None:
        """Raise SourceUnavailable when the source cannot be reached."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class ReportsStatus(Protocol):
    """A source with a state of its own to show (a files source: the exports it
    serves and why the last one was refused); `/readyz` and `/metrics` show it.
    The status is JSON-ready; sources without such a state do not implement it."""

    def status(self) -> dict[str, Any] | None: ...
