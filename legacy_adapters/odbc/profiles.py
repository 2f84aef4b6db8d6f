"""Per-DBMS profiles: what an ODBC source needs to know about the database
behind the driver that the driver does not report reliably.

The profile is chosen from the driver's `SQL_DBMS_NAME` (first match of
`dbms_names`, a case-insensitive prefix) and can be named or overridden in the
configuration (`profile: db2` or `profile: {base: db2, paging: row_number}`).
Identifier quoting is not part of a profile: it always comes from the driver's
`SQL_IDENTIFIER_QUOTE_CHAR`.

Fields:

- `paging`: how a page is limited.
  `limit_offset` (`LIMIT ? OFFSET ?`), `fetch_first` (`OFFSET ? ROWS FETCH
  FIRST ? ROWS ONLY`, SQL:2008), `top` (`SELECT TOP n`; pages after the first
  use ROW_NUMBER), `rownum` (Oracle before 12c: `WHERE ROWNUM <= ?`; pages
  after the first use ROW_NUMBER), `row_number` (`ROW_NUMBER() OVER (ORDER
  BY ...)` in a derived table).
- `limit_all`: with `limit_offset`, what `LIMIT` says when only an offset is
  given (None: no LIMIT clause).
- `window_functions`: ROW_NUMBER() is available (needed by `row_number` and
  by `top`/`rownum` for pages that skip rows).
- `like_escape`: `LIKE ... ESCAPE '\\'` works; None trusts the driver's
  `SQL_LIKE_ESCAPE_CLAUSE` (which describes the ODBC escape sequence: the
  SQLite driver reports False although SQLite accepts the clause).
- `backslash_literals`: string literals treat `\\` as an escape (MySQL,
  MariaDB): the ESCAPE literal is written `'\\\\'`.
- `unicode_lower`: `lower()` folds every letter, not only ASCII; without it a
  case-insensitive pattern with non-ASCII letters is refused.
- `native_decimal`: DECIMAL values come back as `Decimal` (SQLite returns
  floats, converted with the column's scale).
- `row_values`: `(a, b) IN ((?, ?), ...)` works; `tuple_in_values` writes it
  `(a, b) IN (VALUES (?, ?), ...)`. Without row values, a column-tuple IN is
  refused.
- `count_estimate`: how to ask the planner for a row estimate
  (`postgresql`, `mysql`) or None.
- `session_sql`, `read_only_sql`: statements run on each new connection
  (always, and when the source is read-only).
- `timeout_sql`: a server-side statement time limit for the session, with
  `{ms}` or `{s}` for the source's statement timeout. The client-side
  deadline (SQLCancel) applies in every case.
- `default_schema_sql`: the query that names the schema unqualified names
  resolve to (the schema a source without `schema:` reflects).
- `schemas_are_catalogs`: the DBMS calls its namespaces catalogs (MySQL,
  MariaDB: a schema is a database).
- `read_only_attribute`: the driver enforces `SQL_ATTR_ACCESS_MODE`.
- `timeout_states`, `lost_states`: vendor SQLSTATEs beyond the standard ones.
- `alias_as`: derived tables are aliased `AS name` (Oracle wants no AS).
- `nulls`: where the DBMS sorts NULL, which its indexes follow: `greatest`
  (PostgreSQL), `least` (SQLite, MariaDB, MySQL) or `explicit` (not known: a
  leading `IS NULL` term in every ORDER BY puts NULL last, so no index serves a
  sort on a nullable column).
- `ping_sql`: the cheapest statement that needs the server.
- `tested`: the profile has been run against a real driver by the test suite;
  the others follow the vendor's documentation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

Paging = Literal["limit_offset", "fetch_first", "top", "rownum", "row_number"]
PAGING_FORMS: frozenset[str] = frozenset(get_args(Paging))
Estimate = Literal["postgresql", "mysql"]
# Where the DBMS sorts NULL (its indexes follow it): "greatest", "least", or
# "explicit" (not known: every ORDER BY says so with a leading IS NULL term).
Nulls = Literal["greatest", "least", "explicit"]
NULL_ORDERS: frozenset[str] = frozenset(get_args(Nulls))


@dataclass(frozen=True)
class DbmsProfile:
    name: str
    dbms_names: tuple[str, ...] = ()
    paging: Paging = "fetch_first"
    limit_all: str | None = None
    window_functions: bool = True
    like_escape: bool | None = None
    backslash_literals: bool = False
    unicode_lower: bool = True
    native_decimal: bool = True
    row_values: bool = True
    tuple_in_values: bool = False
    count_estimate: Estimate | None = None
    session_sql: tuple[str, ...] = ()
    read_only_sql: tuple[str, ...] = ()
    timeout_sql: str | None = None
    default_schema_sql: str | None = None
    schemas_are_catalogs: bool = False
    read_only_attribute: bool = False
    timeout_states: frozenset[str] = frozenset()
    lost_states: frozenset[str] = frozenset()
    ping_sql: str = "SELECT 1"
    alias_as: bool = True
    nulls: Nulls = "explicit"
    tested: bool = False


PROFILES: dict[str, DbmsProfile] = {
    p.name: p
    for p in (
        DbmsProfile(
            "sqlite",
            ("SQLite",),
            paging="limit_offset",
            limit_all="-1",
            like_escape=True,
            unicode_lower=False,
            native_decimal=False,
            tuple_in_values=True,
            # LIKE 'prefix%' compares case-sensitively, as `=` does (the `prefix` operator).
            session_sql=("PRAGMA case_sensitive_like=ON", "PRAGMA cache_size=-16000"),
            read_only_sql=("PRAGMA query_only=ON",),
            nulls="least",
            tested=True,
        ),
        DbmsProfile(
            "postgresql",
            ("PostgreSQL",),
            paging="limit_offset",
            like_escape=True,
            count_estimate="postgresql",
            read_only_sql=("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",),
            timeout_sql="SET statement_timeout = {ms}",
            default_schema_sql="SELECT current_schema()",
            nulls="greatest",
            tested=True,
        ),
        DbmsProfile(
            "mariadb",
            ("MariaDB",),
            paging="limit_offset",
            limit_all="18446744073709551615",
            like_escape=True,
            backslash_literals=True,
            count_estimate="mysql",
            read_only_sql=("SET SESSION TRANSACTION READ ONLY",),
            timeout_sql="SET SESSION max_statement_time = {s}",
            schemas_are_catalogs=True,
            # Connector/ODBC reports a statement killed by max_statement_time or by
            # a cancel (server errors 1969, 1317) as HY018.
            timeout_states=frozenset({"HY018"}),
            nulls="least",
            tested=True,
        ),
        DbmsProfile(
            "mysql",
            ("MySQL",),
            paging="limit_offset",
            limit_all="18446744073709551615",
            like_escape=True,
            backslash_literals=True,
            count_estimate="mysql",
            read_only_sql=("SET SESSION TRANSACTION READ ONLY",),
            timeout_sql="SET SESSION max_execution_time = {ms}",
            schemas_are_catalogs=True,
            timeout_states=frozenset({"HY018"}),
            nulls="least",
        ),
        DbmsProfile(
            "mssql",
            ("Microsoft SQL Server",),
            paging="top",
            like_escape=True,
            row_values=False,
            default_schema_sql="SELECT SCHEMA_NAME()",
        ),
        DbmsProfile(
            "db2",
            ("DB2/", "DB2 ", "DB2"),
            paging="fetch_first",
            like_escape=True,
            default_schema_sql="VALUES CURRENT SCHEMA",
            ping_sql="VALUES 1",
        ),
        DbmsProfile(
            "db2i",
            ("DB2/400", "DB2 for i", "DB2 UDB for AS/400"),
            paging="row_number",
            like_escape=True,
            default_schema_sql="VALUES CURRENT SCHEMA",
            ping_sql="VALUES 1",
        ),
        DbmsProfile(
            "oracle",
            ("Oracle",),
            paging="rownum",
            like_escape=True,
            default_schema_sql="SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM DUAL",
            ping_sql="SELECT 1 FROM DUAL",
            alias_as=False,
        ),
        DbmsProfile(
            "informix",
            ("Informix", "IBM Informix"),
            paging="row_number",
            like_escape=True,
            ping_sql="SELECT 1 FROM systables WHERE tabid = 1",
        ),
        DbmsProfile("openedge", ("OpenEdge", "Progress"), paging="fetch_first", like_escape=True),
        DbmsProfile(
            "zen", ("Pervasive", "Actian Zen", "Btrieve"), paging="top", window_functions=False
        ),
        DbmsProfile(
            "foxpro",
            ("Visual FoxPro", "FoxPro"),
            paging="top",
            window_functions=False,
            like_escape=False,
            row_values=False,
        ),
    )
}

#: For a DBMS no profile names: SQL:2008 paging, no row values, the driver's word on LIKE.
GENERIC = DbmsProfile("generic", paging="fetch_first", row_values=False)


class ProfileError(ValueError):
    """A profile name or override that does not exist (names the offending key)."""


def detect(dbms_name: str) -> DbmsProfile:
    """The profile whose `dbms_names` prefix matches the driver's SQL_DBMS_NAME."""
    name = dbms_name.strip().lower()
    best: tuple[int, DbmsProfile] | None = None
    for profile in PROFILES.values():
        for prefix in profile.dbms_names:
            if name.startswith(prefix.lower()) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), profile)
    return best[1] if best else GENERIC


def resolve(dbms_name: str, override: str | Mapping[str, Any] | DbmsProfile | None) -> DbmsProfile:
    """The profile for a driver, with the configuration's override applied: a
    profile name, a `DbmsProfile`, or a mapping of fields with an optional `base`."""
    if isinstance(override, DbmsProfile):
        return override
    if override is None:
        return detect(dbms_name)
    if isinstance(override, str):
        return _named(override)
    fields = dict(override)
    base = _named(str(fields.pop("base"))) if "base" in fields else detect(dbms_name)
    known = {f.name: f for f in dataclasses.fields(DbmsProfile)}
    changes: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in known or key in ("name", "dbms_names"):
            raise ProfileError(f"unknown ODBC profile setting {key!r}")
        if key == "nulls" and value not in NULL_ORDERS:
            orders = ", ".join(sorted(NULL_ORDERS))
            raise ProfileError(f"profile nulls {value!r} is not one of {orders}")
        if key == "paging" and value not in PAGING_FORMS:
            forms = ", ".join(sorted(PAGING_FORMS))
            raise ProfileError(f"profile paging {value!r} is not one of {forms}")
        if key in ("session_sql", "read_only_sql", "dbms_names"):
            value = (value,) if isinstance(value, str) else tuple(value)
        elif key in ("timeout_states", "lost_states"):
            value = frozenset(str(v).upper() for v in value)
        changes[key] = value
    return dataclasses.replace(base, tested=False, **changes) if changes else base


def _named(name: str) -> DbmsProfile:
    if name == GENERIC.name:
        return GENERIC
    try:
        return PROFILES[name]
    except KeyError:
        names = ", ".join(sorted([*PROFILES, GENERIC.name]))
        raise ProfileError(f"unknown ODBC profile {name!r}; known profiles: {names}") from None
