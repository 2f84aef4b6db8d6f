"""A legacy source reached through an ODBC driver, for databases that have no
SQLAlchemy dialect (Progress OpenEdge, Pervasive/Actian Zen, DB2 for i,
Informix, FoxPro, ...) or that a site reaches only through its DSN.

- Connections: `odbc:DSN=PLANT` or a full connection string after `odbc:`;
  `${VAR}` is taken from the environment when the source is opened.
- Reflection: the ODBC catalog functions (`catalog.py`).
- Statements: the same Core statements as the SQLAlchemy adapter, compiled
  once per query shape by a dialect configured from the driver's answers and
  a per-DBMS profile (`dialect.py`, `profiles.py`), executed with `?`
  parameters bound with the reflected column types (`plans.py`).
- Limits: a bounded pool (`pool.py`) whose wait ends in `SourceTimeout`; a
  deadline per statement (`deadline.py`) plus the profile's server-side limit; read-only sessions
  (`SQL_ATTR_ACCESS_MODE` and the profile's read-only statement).
- Errors: translated by SQLSTATE (`errors.py`); a statement that fails because
  the connection was lost is retried once on a new connection.

pyodbc is imported on first use only: its wheel needs the system's unixODBC
(`libodbc.so.2`), which a deployment without ODBC sources does not install.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from legacy_adapters.base import (
    Capabilities,
    Schema,
    SchemaMismatch,
    Select,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    TableInfo,
    TableRef,
)
from legacy_adapters.odbc import catalog
from legacy_adapters.odbc.connection import ConnectionStringError, describe, expand, strip_prefix
from legacy_adapters.odbc.deadline import Deadline, Watchdog
from legacy_adapters.odbc.dialect import OdbcDialect, paginator
from legacy_adapters.odbc.drivers import load_pyodbc
from legacy_adapters.odbc.errors import (
    DriverNotFound,
    is_lost,
    sqlstate,
    translate,
    translate_connect,
)
from legacy_adapters.odbc.plans import Plan, PlanCache, check, compile_plan, query_key
from legacy_adapters.odbc.pool import Handle, Pool, PoolTimeout
from legacy_adapters.odbc.profiles import DbmsProfile, resolve
from legacy_adapters.sql.statements import build_statement, statement_values

SQL_ATTR_ACCESS_MODE, SQL_MODE_READ_ONLY = 101, 1
ProfileOverride = str | Mapping[str, Any] | DbmsProfile | None


@dataclass(frozen=True)
class DriverInfo:
    """What the driver said about itself and the DBMS on the first connection."""

    dbms_name: str
    dbms_version: str
    driver_name: str
    driver_version: str
    quote: str
    like_escape_clause: bool
    schema_term: str
    catalog_term: str
    current_catalog: str | None
    default_schema: str | None
    profile: DbmsProfile


class OdbcSource:
    """A `Source` over an ODBC connection string."""

    def __init__(
        self,
        connection_string: str,
        *,
        pool_size: int = 5,
        pool_timeout: float = 5.0,
        statement_timeout: float | None = 10.0,
        read_only: bool = True,
        profile: ProfileOverride = None,
        connect_timeout: float = 5.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        try:
            template = strip_prefix(connection_string)
            self.target = describe(template)
            self._connection_string = expand(template, environ)
        except ConnectionStringError as err:
            raise SourceUnavailable(str(err)) from None
        self.read_only = read_only
        self.statement_timeout = statement_timeout
        self.connect_timeout = connect_timeout
        self._override = profile
        self._info: DriverInfo | None = None
        self._info_lock = threading.Lock()
        self._dialect: OdbcDialect | None = None
        self._capabilities: Capabilities | None = None
        self._tables: dict[TableRef, sa.Table] = {}
        self._plans = PlanCache()
        self._watchdog = Watchdog(statement_timeout) if statement_timeout else None
        self._pool = Pool(self._connect, pool_size, pool_timeout)

    # ------------------------------------------------------------------ driver

    @property
    def info(self) -> DriverInfo:
        """The driver's answers (connects once when nothing has connected yet)."""
        if self._info is None:
            with self._connection():
                pass
        assert self._info is not None
        return self._info

    @property
    def profile(self) -> DbmsProfile:
        return self.info.profile

    @property
    def dialect(self) -> str:  # type: ignore[override]
        return f"odbc:{self.profile.name}"

    @property
    def capabilities(self) -> Capabilities:  # type: ignore[override]
        if self._capabilities is None:
            info, profile = self.info, self.info.profile
            self._capabilities = Capabilities(
                count_estimate=profile.count_estimate is not None,
                schemas=bool(info.schema_term) or profile.schemas_are_catalogs,
                read_only_enforced=self.read_only
                and (profile.read_only_attribute or bool(profile.read_only_sql)),
                like_escape=self._like_escape(info),
                unicode_case_fold=profile.unicode_lower,
                nulls_sort="least" if profile.nulls == "least" else "greatest",
            )
        return self._capabilities

    @staticmethod
    def _like_escape(info: DriverInfo) -> bool:
        declared = info.profile.like_escape
        return info.like_escape_clause if declared is None else declared

    def _connect(self) -> Any:
        """A new pyodbc connection, set up for this source (the pool's creator)."""
        pyodbc = load_pyodbc()
        conn = pyodbc.connect(
            self._connection_string,
            autocommit=True,
            timeout=max(1, math.ceil(self.connect_timeout)),
        )
        try:
            if self._info is None:
                with self._info_lock:
                    if self._info is None:
                        self._info = self._read_info(pyodbc, conn)
            self._prepare(pyodbc, conn, self._info.profile)
        except Exception:
            conn.close()
            raise
        return conn

    def _read_info(self, pyodbc: Any, conn: Any) -> DriverInfo:
        def get(name: str, default: Any = "") -> Any:
            try:
                value = conn.getinfo(getattr(pyodbc, name))
            except pyodbc.Error:
                return default
            return default if value is None else value

        dbms = str(get("SQL_DBMS_NAME"))
        profile = resolve(dbms, self._override)
        default_schema = None
        if profile.default_schema_sql:
            cursor = conn.cursor()
            try:
                row = cursor.execute(profile.default_schema_sql).fetchone()
                default_schema = str(row[0]).strip() if row and row[0] is not None else None
            finally:
                cursor.close()
        catalog_name = get("SQL_DATABASE_NAME", None)
        return DriverInfo(
            dbms_name=dbms,
            dbms_version=str(get("SQL_DBMS_VER")),
            driver_name=str(get("SQL_DRIVER_NAME")),
            driver_version=str(get("SQL_DRIVER_VER")),
            quote=str(get("SQL_IDENTIFIER_QUOTE_CHAR", " ")),
            like_escape_clause=bool(get("SQL_LIKE_ESCAPE_CLAUSE", False)),
            schema_term=str(get("SQL_SCHEMA_TERM")),
            catalog_term=str(get("SQL_CATALOG_TERM")),
            current_catalog=str(catalog_name) if catalog_name else None,
            default_schema=default_schema,
            profile=profile,
        )

    def _prepare(self, pyodbc: Any, conn: Any, profile: DbmsProfile) -> None:
        statements = list(profile.session_sql)
        if self.read_only:
            # An optional attribute (no driver tested here enforces it): the profile's
            # read-only statement is what enforces it where the DBMS is known.
            with suppress(pyodbc.Error):
                conn.set_attr(SQL_ATTR_ACCESS_MODE, SQL_MODE_READ_ONLY)
            statements += profile.read_only_sql
        if self.statement_timeout and profile.timeout_sql:
            seconds = self.statement_timeout
            statements.append(profile.timeout_sql.format(ms=int(seconds * 1000), s=seconds))
        if statements:
            cursor = conn.cursor()
            try:
                for statement in statements:
                    cursor.execute(statement)
            finally:
                cursor.close()

    def _compiler(self) -> OdbcDialect:
        if self._dialect is None:
            info = self.info
            self._dialect = OdbcDialect(
                info.profile, quote=info.quote, like_escape=self._like_escape(info)
            )
        return self._dialect

    # ------------------------------------------------------------------ connections

    @contextmanager
    def _connection(self) -> Iterator[Handle]:
        """A pooled connection; errors become `SourceError`s here. A connection that
        failed because the link is gone is dropped from the pool."""
        pyodbc = load_pyodbc()
        try:
            handle = self._pool.checkout()
        except PoolTimeout as err:
            raise SourceTimeout(
                f"no connection to {self.target} became free in time: {err}"
            ) from None
        except pyodbc.Error as err:
            raise translate_connect(err, target=self.target) from err
        try:
            yield handle
        except pyodbc.Error as err:
            if self._is_lost(err):
                handle.discard()
            raise self._translate(err) from err
        except BaseException:
            handle.discard()  # interrupted half-way: its state is unknown
            raise
        finally:
            self._pool.checkin(handle)

    def _translate(self, err: Exception, timed_out: bool = False) -> SourceError:
        profile = self._info.profile if self._info else None
        return translate(
            err,
            target=self.target,
            timed_out=timed_out,
            timeout_states=profile.timeout_states if profile else (),
            lost_states=profile.lost_states if profile else (),
        )

    def _is_lost(self, err: Exception) -> bool:
        extra = self._info.profile.lost_states if self._info else ()
        return is_lost(sqlstate(err), extra)

    def _run(
        self, sql: str, params: Sequence[Any], sizes: Sequence[Any] | None, one: bool = False
    ) -> list[Any]:
        """Execute under the deadline; a statement that lost its connection is
        retried once on a new one (reads are safe to repeat)."""
        pyodbc = load_pyodbc()
        for attempt in (1, 2):
            try:
                with self._connection() as handle:
                    return self._execute(pyodbc, handle, sql, params, sizes, one)
            except SourceTimeout:
                raise
            except DriverNotFound:
                raise
            except SourceUnavailable as err:
                lost = err.__cause__ is not None and self._is_lost(err.__cause__)  # type: ignore[arg-type]
                if attempt == 2 or not lost:
                    raise
        raise AssertionError("unreachable")

    def _execute(
        self,
        pyodbc: Any,
        handle: Handle,
        sql: str,
        params: Sequence[Any],
        sizes: Sequence[Any] | None,
        one: bool,
    ) -> list[Any]:
        cursor = handle.cursor
        if sizes or handle.sized:  # input sizes stay set on a cursor until replaced
            cursor.setinputsizes(list(sizes) if sizes else None)
            handle.sized = bool(sizes)
        deadline: Deadline | None = None
        if self._watchdog is not None:
            deadline = self._watchdog.arm(cursor)
        try:
            cursor.execute(sql, params) if params else cursor.execute(sql)
            rows = cursor.fetchall() if not one else [cursor.fetchone()]
        except pyodbc.Error as err:
            fired = self._watchdog.disarm(deadline) if deadline else False
            deadline = None
            if fired:
                handle.discard()  # a cancelled statement may leave the session unusable
                raise self._translate(err, timed_out=True) from err
            raise
        finally:
            if deadline is not None:
                self._watchdog.disarm(deadline)  # type: ignore[union-attr]
        return rows

    # ------------------------------------------------------------------ reflection

    def reflect(
        self,
        tables: Iterable[TableRef] | None = None,
        schemas: Sequence[str | None] = (None,),
    ) -> Schema:
        """Reflect `tables` (serve time: only what the mapping uses), or every
        table and view of `schemas` (inspect and init)."""
        wanted: dict[str | None, list[str] | None] = {}
        if tables is not None:
            for ref in tables:
                names = wanted.setdefault(ref.schema, [])
                assert names is not None
                names.append(ref.name)
        else:
            wanted = {s: None for s in schemas}
        infos: list[TableInfo] = []
        pyodbc = load_pyodbc()
        for attempt in (1, 2):
            try:
                with self._connection() as handle:
                    cursor = handle.connection.cursor()
                    try:
                        for schema, names in wanted.items():
                            infos += self._reflect_schema(pyodbc, cursor, schema, names)
                    finally:
                        cursor.close()
                break
            except SourceUnavailable as err:
                cause = err.__cause__
                if attempt == 2 or cause is None or not self._is_lost(cause):  # type: ignore[arg-type]
                    raise
                infos = []
        infos.sort(key=lambda t: (t.ref.schema or "", t.ref.name))
        return Schema(dialect=self.dialect, tables=tuple(infos))

    def _namespace(self, schema: str | None) -> tuple[str | None, str | None]:
        """(catalog, schema) arguments of the catalog functions for a source schema."""
        info = self.info
        if info.profile.schemas_are_catalogs:
            return (schema or info.current_catalog), None
        if schema is None:
            return None, info.default_schema
        return None, schema

    def _reflect_schema(
        self, pyodbc: Any, cursor: Any, schema: str | None, names: list[str] | None
    ) -> list[TableInfo]:
        cat, sch = self._namespace(schema)

        def here(row: Any) -> bool:
            if sch is not None and (row.table_schem or None) != sch:
                return False
            return cat is None or (row.table_cat or None) == cat

        listed: dict[str, str] = {}
        for row in cursor.tables(catalog=cat, schema=sch).fetchall():
            kind = catalog.table_kind(row.table_type)
            if kind and here(row):
                listed[str(row.table_name)] = kind
        chosen = (
            sorted(listed) if names is None else [n for n in dict.fromkeys(names) if n in listed]
        )
        if not chosen:
            return []
        columns: dict[str, list[Any]] = {}
        if names is None:  # the whole schema: one SQLColumns call
            for row in cursor.columns(catalog=cat, schema=sch).fetchall():
                if here(row):
                    columns.setdefault(str(row.table_name), []).append(row)
        else:
            for name in chosen:
                rows = cursor.columns(table=name, catalog=cat, schema=sch).fetchall()
                columns[name] = [r for r in rows if str(r.table_name) == name and here(r)]
        same = {None, "", sch, cat}
        metadata = sa.MetaData()
        infos = []
        for name in chosen:
            col_rows = sorted(columns.get(name, []), key=lambda r: int(r.ordinal_position))
            if not col_rows:
                continue
            pk_rows = _catalog_rows(pyodbc, cursor.primaryKeys, name, catalog=cat, schema=sch)
            primary_key = tuple(
                str(r.column_name) for r in sorted(pk_rows, key=lambda r: int(r.key_seq))
            )
            cols = [catalog.column(r, primary_key) for r in col_rows]
            index_rows = _catalog_rows(
                pyodbc, cursor.statistics, name, catalog=cat, schema=sch, quick=True
            )
            fk_rows = _catalog_rows(
                pyodbc, cursor.foreignKeys, foreignTable=name, foreignCatalog=cat, foreignSchema=sch
            )
            ref = TableRef(name, schema)
            self._tables[ref] = catalog.build_table(metadata, ref, cols, primary_key)
            infos.append(
                catalog.table_info(ref, listed[name], cols, primary_key, index_rows, fk_rows, same)
            )
        return infos

    def _table(self, ref: TableRef) -> sa.Table:
        try:
            return self._tables[ref]
        except KeyError:
            raise SchemaMismatch(f"table {ref} was not reflected") from None

    # ------------------------------------------------------------------ reading

    def plan(self, query: Select) -> tuple[Plan, list[Any]]:
        """The compiled plan for `query` and its positional parameter values."""
        table = self._table(query.table)
        caps = self.capabilities
        check(
            query,
            like_escape=caps.like_escape,
            unicode_lower=caps.unicode_case_fold,
            row_values=self.profile.row_values,
        )
        values = statement_values(query)
        dialect = self._compiler()
        key = query_key(query, values, literal_limit=self.profile.paging == "top")

        def build() -> Plan:
            try:
                stmt = build_statement(
                    table, query, self._table, paginator(self.profile), nulls=self.profile.nulls
                )
            except KeyError as err:
                raise SchemaMismatch(f"column {err} is not in {query.table}") from None
            return compile_plan(stmt, dialect, values)

        plan = self._plans.get(key, build)
        return plan, plan.parameters(values)

    def select(self, query: Select) -> list[tuple[Any, ...]]:
        plan, params = self.plan(query)
        return plan.convert(self._run(plan.sql, params, plan.sizes))

    def count(self, query: Select, estimate: bool = False) -> tuple[int, bool]:
        filtered = Select(query.table, (), query.where)
        table = self._table(query.table)
        caps = self.capabilities
        check(
            filtered,
            like_escape=caps.like_escape,
            unicode_lower=caps.unicode_case_fold,
            row_values=self.profile.row_values,
        )
        values = statement_values(filtered)
        method = self.profile.count_estimate if estimate else None
        key = ("count", method, query_key(filtered, values, False))

        def build() -> Plan:
            try:
                where = build_statement(table, filtered, self._table).whereclause
            except KeyError as err:
                raise SchemaMismatch(f"column {err} is not in {query.table}") from None
            conditions = () if where is None else (where,)
            if method:
                columns = list(table.primary_key.columns) or list(table.c)
                stmt = sa.select(*columns).where(*conditions)
            else:
                stmt = sa.select(sa.func.count()).select_from(table).where(*conditions)
            return compile_plan(stmt, self._compiler(), values, converted=False)

        plan = self._plans.get(key, build)
        params = plan.parameters(values)
        if method is None:
            rows = self._run(plan.sql, params, plan.sizes, one=True)
            return int(rows[0][0]), True
        return _ESTIMATES[method](self, plan, params), False

    def ping(self) -> None:
        self._run(self.profile.ping_sql, (), None, one=True)

    def close(self) -> None:
        self._pool.dispose()
        if self._watchdog is not None:
            self._watchdog.close()


def _catalog_rows(pyodbc: Any, call: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
    """Rows of an optional catalog function: a driver that cannot answer it for
    this object (a view's keys, say) has nothing to say, which is not an error."""
    try:
        return call(*args, **kwargs).fetchall()
    except pyodbc.Error as err:
        if is_lost(sqlstate(err)):
            raise
        return []


def _estimate_postgresql(source: OdbcSource, plan: Plan, params: list[Any]) -> int:
    rows = source._run(f"EXPLAIN (FORMAT JSON) {plan.sql}", params, plan.sizes, one=True)
    document = rows[0][0]
    parsed = json.loads(document) if isinstance(document, str) else document
    return int(parsed[0]["Plan"]["Plan Rows"])


def _estimate_mysql(source: OdbcSource, plan: Plan, params: list[Any]) -> int:
    with source._connection() as handle:
        cursor = handle.connection.cursor()
        try:
            cursor.execute(f"EXPLAIN {plan.sql}", params)
            names = [d[0].lower() for d in cursor.description]
            rows = cursor.fetchall()
        finally:
            cursor.close()
    if "rows" not in names:
        return 0
    pos = names.index("rows")
    return int(max((r[pos] or 0) for r in rows)) if rows else 0


_ESTIMATES: dict[str, Callable[[OdbcSource, Plan, list[Any]], int]] = {
    "postgresql": _estimate_postgresql,
    "mysql": _estimate_mysql,
}

__all__ = ["DriverInfo", "OdbcSource"]
