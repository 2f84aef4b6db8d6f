"""A legacy source reached through SQLAlchemy: SQLite, PostgreSQL, MariaDB/MySQL, ...

Queries are built with SQLAlchemy Core over *reflected* `Table` objects, so every
identifier comes from reflection and every value is a bound parameter typed with
the reflected column type (on PostgreSQL a CHAR(n) key compared with a `text`
parameter would silently turn an index lookup into a full scan).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from legacy_adapters.base import (
    Key,
    QueryRejected,
    Schema,
    SchemaMismatch,
    Select,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    TableInfo,
    TableRef,
    UnsupportedQuery,
)
from legacy_adapters.sql import timeouts as sql_timeouts
from legacy_adapters.sql.backends import backend_for
from legacy_adapters.sql.checksums import checksum_statement, rows_statement
from legacy_adapters.sql.compiled import CompiledSelect
from legacy_adapters.sql.errors import describe_failure, where
from legacy_adapters.sql.kept import KeptConnections
from legacy_adapters.sql.reflection import named_types, table_info
from legacy_adapters.sql.statements import StatementCache, build_statement, statement_values

log = logging.getLogger(__name__)
T = TypeVar("T")
FILE_CHECK_SECONDS = 0.1  # how often reads look whether a SQLite file was moved or replaced


class SQLAlchemySource:
    """Reads a legacy database through a bounded, read-only SQLAlchemy engine."""

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = True,
        pool_size: int = 5,
        pool_timeout: float = 5.0,
        statement_timeout: float | None = 10.0,
    ) -> None:
        self.url = make_url(url)
        self.backend = backend_for(self.url)
        self.dialect = self.url.get_backend_name()
        self.read_only = read_only
        self.statement_timeout = statement_timeout
        self.capabilities = self.backend.capabilities(read_only)
        self.bounds = sql_timeouts.Bounds.for_statement_timeout(statement_timeout)
        self.engine = self._make_engine(pool_size, pool_timeout)
        self._tables: dict[TableRef, sa.Table] = {}
        self._statements = StatementCache(nulls=self.backend.nulls, exact=self.backend.exact)
        self._compiled: dict[int, tuple[sa.Select, CompiledSelect]] = {}  # by id(statement)
        # A planned query (kept by the facade for a polled page) is built once:
        # its statement, compiled form and values, by the query's identity.
        self._built: dict[int, tuple[Select, sa.Select, CompiledSelect | None, dict[str, Any]]] = {}
        self._compiling = threading.Lock()
        self._metadata = sa.MetaData()
        self._file = _sqlite_file(self.url) if self.dialect == "sqlite" else None
        self._file_identity = _identity(self._file) if self._file else None
        self._file_checked_at = -math.inf
        keeps = self.backend.reads_leave_nothing(read_only) and isinstance(
            self.engine.pool, sa.pool.QueuePool
        )
        self._kept = KeptConnections(self._checkout_raw, pool_size - 1 if keeps else 0)

    # ------------------------------------------------------------------ engine

    def _make_engine(self, pool_size: int, pool_timeout: float) -> Engine:
        # No pool_pre_ping: a stale pooled connection fails its query, which is run
        # again once on a fresh connection (`_run`); that saves a round trip a
        # request, and a hung server costs one answer timeout instead of two.
        settings = self.backend.settings(
            self.url,
            read_only=self.read_only,
            pool_size=pool_size,
            pool_timeout=pool_timeout,
            statement_timeout=self.statement_timeout,
            bounds=self.bounds,
        )
        engine = sa.create_engine(
            settings.url, connect_args=settings.connect_args, **settings.options
        )
        sql_timeouts.install(engine, self.url.get_driver_name(), self.bounds)
        if self.backend.unknown_types:
            engine.dialect.ischema_names = {  # type: ignore[attr-defined]
                **named_types(self.backend.unknown_types),
                **engine.dialect.ischema_names,  # type: ignore[attr-defined]
            }
        self.backend.install(
            engine, read_only=self.read_only, statement_timeout=self.statement_timeout
        )
        return engine

    def _run(self, work: Callable[[Connection], T]) -> T:
        """`work` on a pooled connection. Driver errors become `SourceError`s here,
        and only here. A pooled connection the server closed meanwhile (a restart,
        an idle cut) fails its first statement: the work is run once more on a
        fresh connection (reads only, so repeating is harmless)."""
        with self._translated():
            self._check_file()
            try:
                with self._connect() as conn:
                    return work(conn)
            except exc.DBAPIError as err:
                if not err.connection_invalidated or self._is_timeout(err):
                    raise
            with self._connect() as conn:
                return work(conn)

    def _connect(self) -> Connection:
        """A pooled connection; failing to get one is never a rejected query."""
        try:
            return self.engine.connect()
        except exc.DBAPIError as err:
            if self._is_timeout(err):
                raise SourceTimeout(describe_failure(self.url, err)) from err
            raise SourceUnavailable(describe_failure(self.url, err)) from err

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver errors as the adapter's error tree, by the backend's error codes."""
        try:
            yield
        except SourceError:
            raise
        except exc.TimeoutError as err:
            raise SourceTimeout("no legacy database connection became free in time") from err
        except (exc.DataError, OverflowError) as err:
            raise UnsupportedQuery("a value does not fit the legacy column's type") from err
        except exc.DBAPIError as err:
            if self.backend.is_statement_timeout(err):
                raise SourceTimeout("the legacy database did not answer in time") from err
            if self.backend.is_client_timeout(err):
                raise SourceTimeout(describe_failure(self.url, err)) from err
            if self.backend.is_unavailable(err):
                raise SourceUnavailable(describe_failure(self.url, err)) from err
            raise QueryRejected(f"{where(self.url)} refused the statement: {err}") from err

    def _is_timeout(self, err: exc.DBAPIError) -> bool:
        return self.backend.is_statement_timeout(err) or self.backend.is_client_timeout(err)

    def _check_file(self, every: float = 0.0) -> None:
        """SQLite: the file must still be the one opened. Gone or renamed: the source
        is unavailable (pooled connections would read a file nobody updates any more);
        replaced by a new file: the pool is emptied so connections open the new one.

        Reads check at most every `every` seconds (a `stat` costs a system call,
        about a tenth of an indexed read's time under load): a read within that
        long of another read's look, after a move, may still be answered from
        the file as it was. Every other use (start, probes, counts) looks each
        time without sparing reads theirs, and a look that finds a change makes
        the next read look again."""
        if self._file is None:
            return
        now = time.monotonic()
        if now - self._file_checked_at < every:
            return
        identity = _identity(self._file)
        if identity == self._file_identity:
            if every:  # only a read's look spares the next reads theirs
                self._file_checked_at = now
            return
        self._file_checked_at = -math.inf
        if identity is None:
            raise SourceUnavailable(f"the SQLite database file {self._file} is gone")
        if self._file_identity is not None:
            log.warning("the SQLite database file %s was replaced: reopening it", self._file)
        self._file_identity = identity
        self._kept.renew()
        self.engine.dispose()

    # ------------------------------------------------------------------ reflection

    def reflect(
        self,
        tables: Iterable[TableRef] | None = None,
        schemas: Sequence[str | None] = (None,),
    ) -> Schema:
        """Reflect `tables` (serve time: only what the mapping uses), or every
        table and view of `schemas` (inspect and init)."""
        wanted: dict[str | None, list[str]] = {}
        if tables is not None:
            for ref in tables:
                wanted.setdefault(ref.schema, []).append(ref.name)
        else:
            wanted = {s: [] for s in schemas}
        infos = self._run(lambda conn: self._reflect(conn, wanted, tables is not None))
        return Schema(dialect=self.dialect, tables=tuple(infos))

    def _reflect(
        self, conn: Connection, wanted: dict[str | None, list[str]], only_present: bool
    ) -> list[TableInfo]:
        infos: list[TableInfo] = []
        reflected: dict[TableRef, sa.Table] = {}
        inspector = sa.inspect(conn)
        for schema, names in wanted.items():
            views = set(inspector.get_view_names(schema=schema)) | _materialized(inspector, schema)
            # Partitions are read through their parent: listed once, as the parent.
            tables = set(inspector.get_table_names(schema=schema))
            tables -= self.backend.hidden_tables(conn, schema)
            if only_present:
                # Missing tables are left out; the mapping check names them.
                names = [n for n in names if n in tables | views]
                if not names:
                    continue
            own = set(names) if names else tables | views
            metadata = sa.MetaData()
            metadata.reflect(conn, schema=schema, only=sorted(own), views=True)
            for table in metadata.tables.values():
                # Foreign keys bring in the tables they refer to, from any schema:
                # only the tables asked for are listed (no phantom tables).
                if table.schema != schema or table.name not in own:
                    continue
                ref = TableRef(str(table.name), schema)
                reflected[ref] = table
                kind = "view" if table.name in views else "table"
                self.backend.prepare(table)
                infos.append(table_info(ref, table, kind, self.engine.dialect))
        self._tables.update(reflected)
        infos.sort(key=lambda t: (t.ref.schema or "", t.ref.name))
        return infos

    def _table(self, ref: TableRef) -> sa.Table:
        try:
            return self._tables[ref]
        except KeyError:
            raise SchemaMismatch(f"table {ref} was not reflected") from None

    # ------------------------------------------------------------------ reading

    def build(self, query: Select) -> tuple[sa.Select, dict[str, Any]]:
        """The Core statement for `query` and its parameter values."""
        table = self._table(query.table)
        try:
            return self._statements.get(table, query, self._table), statement_values(query)
        except KeyError as err:
            raise SchemaMismatch(f"column {err} is not in {query.table}") from None

    def select(self, query: Select) -> list[tuple[Any, ...]]:
        built = self._built.get(id(query))
        if built is None or built[0] is not query:
            stmt, params = self.build(query)
            built = (query, stmt, self._compiled_select(stmt), params)
            if len(self._built) >= self._statements.maxsize:
                self._built.clear()
            self._built[id(query)] = built
        _query, stmt, compiled, params = built
        if compiled is None or self._cursor_events():
            # Cursor events (instrumentation, the benchmark's SQL check) see every
            # statement: SQLAlchemy runs it.
            return self._run(lambda conn: conn.execute(stmt, params).all())  # rows index as tuples
        return self._run_raw(lambda raw: self._fetch(raw, compiled, params))

    def _cursor_events(self) -> bool:
        """Someone listens to this engine's cursor executions (checked per query:
        listeners come and go; `Engine._has_events` stays set once one came)."""
        dispatch = self.engine.dispatch
        return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)

    def _compiled_select(self, stmt: sa.Select) -> CompiledSelect | None:
        """The statement compiled once. Statements are cached by shape, so the compiled
        form is kept by the statement's identity, as many as statements (oldest out)."""
        found = self._compiled.get(id(stmt))
        if found is None or found[0] is not stmt:
            found = (stmt, CompiledSelect(stmt, self.engine.dialect))
            with self._compiling:
                self._compiled[id(stmt)] = found
                while len(self._compiled) > self._statements.maxsize:
                    del self._compiled[next(iter(self._compiled))]
        return found[1] if found[1].supported else None

    def _fetch(self, raw: Any, compiled: CompiledSelect, params: dict[str, Any]) -> list[Any]:
        sql, values = compiled.bind(params)
        # One cursor per connection, used read after read (a psycopg cursor costs
        # 13 us to make and close); a read that fails closes it.
        info = raw.info
        cursor = info.get("lw_cursor")
        if cursor is None:
            cursor = info["lw_cursor"] = raw.dbapi_connection.cursor()
        try:
            cursor.execute(sql, values)
            return compiled.rows(cursor)
        except BaseException as err:
            info.pop("lw_cursor", None)
            with suppress(Exception):
                cursor.close()
            if isinstance(err, self._dbapi_error):
                raise self._wrapped(err, raw, sql, values) from err
            raise

    def _run_raw(self, work: Callable[[Any], T]) -> T:
        """`_run` on a pooled DBAPI connection (no `Connection` around it)."""
        with self._translated():
            self._check_file(every=FILE_CHECK_SECONDS)
            try:
                return self._on_raw(work)
            except exc.DBAPIError as err:
                if not err.connection_invalidated or self._is_timeout(err):
                    raise
            return self._on_raw(work)

    def _on_raw(self, work: Callable[[Any], T]) -> T:
        raw = self._kept.get()  # this thread's connection, see `kept.py`
        if raw is not None:
            try:
                return work(raw)
            except BaseException:
                self._kept.drop()
                raise
        raw = self._checkout_raw()
        try:
            return work(raw)
        finally:
            raw.close()  # back to the pool, rolled back

    def _checkout_raw(self) -> Any:
        try:
            return self.engine.raw_connection()
        except self._dbapi_error as err:
            wrapped = self._wrapped(err, None)
            if self._is_timeout(wrapped):
                raise SourceTimeout(describe_failure(self.url, wrapped)) from err
            raise SourceUnavailable(describe_failure(self.url, wrapped)) from err

    @property
    def _dbapi_error(self) -> type[Exception]:
        return self.engine.dialect.loaded_dbapi.Error  # type: ignore[no-any-return]

    def _wrapped(
        self, err: Exception, raw: Any, sql: str | None = None, values: Any = None
    ) -> exc.DBAPIError:
        """A driver error as SQLAlchemy would have raised it; a connection the
        dialect sees as lost is invalidated (not returned to the pool)."""
        dialect = self.engine.dialect
        lost = raw is not None and dialect.is_disconnect(err, raw.dbapi_connection, None)
        if lost:
            raw.invalidate(err)
        wrapped = exc.DBAPIError.instance(
            sql, values, err, self._dbapi_error, connection_invalidated=lost, dialect=dialect
        )
        return wrapped  # type: ignore[return-value]

    def count(self, query: Select, estimate: bool = False) -> tuple[int, bool]:
        table = self._table(query.table)
        filtered = Select(query.table, (), query.where)
        params = statement_values(filtered)
        where = build_statement(table, filtered, self._table).whereclause
        conditions = () if where is None else (where,)
        if estimate and self.capabilities.count_estimate:
            rows = sa.select(*table.primary_key.columns or table.c).where(*conditions)
            return self._run(lambda conn: self._estimate(conn, rows.params(params))), False
        stmt = sa.select(sa.func.count()).select_from(table).where(*conditions)
        return self._run(lambda conn: int(conn.execute(stmt, params).scalar_one())), True

    def _estimate(self, conn: Connection, stmt: sa.Select) -> int:
        compiled = stmt.compile(
            dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        params = compiled.params
        positional = tuple(params[name] for name in compiled.positiontup or ())
        estimate = self.backend.estimate(conn, str(compiled), positional or params)
        return estimate or 0

    # ------------------------------------------------------------------ range checksums

    def range_checksums(
        self,
        table: TableRef,
        key: tuple[str, ...],
        columns: tuple[str, ...],
        lo: Key | None,
        hi: Key | None,
        bounds: Sequence[Key],
    ) -> dict[int, tuple[int, int]]:
        """See `legacy_adapters.base.RangeChecksums` (only when the backend has one)."""
        stmt = checksum_statement(self.backend, self._table(table), key, columns, lo, hi, bounds)
        rows = self._run(lambda conn: conn.execute(stmt).all())
        return {int(part): (int(count), int(total or 0)) for part, count, total in rows}

    def range_rows(
        self,
        table: TableRef,
        key: tuple[str, ...],
        columns: tuple[str, ...],
        lo: Key | None,
        hi: Key | None,
        limit: int | None = None,
    ) -> list[tuple[Any, ...]]:
        stmt = rows_statement(self.backend, self._table(table), key, columns, lo, hi)
        if limit is not None:
            stmt = stmt.limit(limit)
        return self._run(lambda conn: [tuple(r) for r in conn.execute(stmt)])

    def ping(self) -> None:
        self._run(lambda conn: conn.execute(sa.select(1)))

    def close(self) -> None:
        self._kept.renew()
        self._kept.drop()
        self.engine.dispose()


# ---------------------------------------------------------------------- helpers


def _materialized(inspector: Any, schema: str | None) -> set[str]:
    """Materialized views (PostgreSQL's are not among `get_view_names`)."""
    try:
        return set(inspector.get_materialized_view_names(schema=schema))
    except NotImplementedError:
        return set()


def _sqlite_file(url: URL) -> str | None:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def _identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
