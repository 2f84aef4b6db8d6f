"""A legacy source reached through SQLAlchemy: SQLite, PostgreSQL, MariaDB/MySQL, ...

Queries are built with SQLAlchemy Core over *reflected* `Table` objects, so every
identifier comes from reflection and every value is a bound parameter typed with
the reflected column type (on PostgreSQL a CHAR(n) key compared with a `text`
parameter would silently turn an index lookup into a full scan).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from legacy_adapters import sql_timeouts
from legacy_adapters.base import (
    Capabilities,
    ColumnInfo,
    ForeignKeyInfo,
    IndexInfo,
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
from legacy_adapters.sql_errors import describe_failure
from legacy_adapters.sql_statements import StatementCache, build_statement, statement_values

log = logging.getLogger(__name__)
T = TypeVar("T")

_PYTHON_TYPES = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    bytes: "bytes",
}


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
        self.dialect = self.url.get_backend_name()
        self.read_only = read_only
        self.statement_timeout = statement_timeout
        self.capabilities = Capabilities(
            count_estimate=self.dialect in ("postgresql", "mysql", "mariadb"),
            schemas=self.dialect != "sqlite",
            read_only_enforced=read_only,
        )
        self.bounds = sql_timeouts.Bounds.for_statement_timeout(statement_timeout)
        self.engine = self._make_engine(pool_size, pool_timeout)
        self._tables: dict[TableRef, sa.Table] = {}
        self._statements = StatementCache()
        self._metadata = sa.MetaData()
        self._file = _sqlite_file(self.url) if self.dialect == "sqlite" else None
        self._file_identity = _identity(self._file) if self._file else None

    # ------------------------------------------------------------------ engine

    def _make_engine(self, pool_size: int, pool_timeout: float) -> Engine:
        url: URL = self.url
        connect_args = sql_timeouts.connect_args(url, self.bounds)
        # No pool_pre_ping: a stale pooled connection fails its query, which is run
        # again once on a fresh connection (`_run`); that saves a round trip a
        # request, and a hung server costs one answer timeout instead of two.
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            database = url.database or ""
            on_disk = bool(database) and database != ":memory:"
            if self.read_only and on_disk:
                url = url.set(database=f"file:{database}?mode=ro", query={"uri": "true"})
            connect_args["check_same_thread"] = False
            if on_disk:
                kwargs.update(pool_size=pool_size, max_overflow=0, pool_timeout=pool_timeout)
        else:
            kwargs.update(pool_size=pool_size, max_overflow=0, pool_timeout=pool_timeout)
        if self.dialect == "postgresql":
            options = []
            if self.read_only:
                options.append("-c default_transaction_read_only=on")
            if self.statement_timeout:
                options.append(f"-c statement_timeout={int(self.statement_timeout * 1000)}")
            if options:
                connect_args["options"] = " ".join(options)
        engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
        sql_timeouts.install(engine, url.get_driver_name(), self.bounds)
        if self.dialect == "sqlite":
            self._install_sqlite_hooks(engine)
        elif self.dialect in ("mysql", "mariadb"):
            self._install_mysql_hooks(engine)
        return engine

    def _install_sqlite_hooks(self, engine: Engine) -> None:
        timeout = self.statement_timeout

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.execute("PRAGMA cache_size=-16000")
            # SQLite's lower() folds ASCII only; `like` must fold every letter.
            dbapi_conn.create_function("lower", 1, _lower, deterministic=True)
            # LIKE 'prefix%' compares case-sensitively, as `=` does, and can use an index.
            dbapi_conn.execute("PRAGMA case_sensitive_like=ON")
            if self.read_only:
                dbapi_conn.execute("PRAGMA query_only=ON")
            if timeout:
                deadline = [0.0]
                record.info["lw_deadline"] = deadline

                def _progress() -> int:
                    return 1 if deadline[0] and time.monotonic() > deadline[0] else 0

                dbapi_conn.set_progress_handler(_progress, 10_000)

        if timeout:
            # SQLite has no statement timeout: the progress handler interrupts any
            # statement once the connection has been checked out for `timeout`
            # seconds (one checkout serves one read: a page and its expansions).
            # A pool event, not a per-statement one, keeps execution on the fast path.
            @event.listens_for(engine, "checkout")
            def _arm(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
                deadline = record.info.get("lw_deadline")
                if deadline is not None:
                    deadline[0] = time.monotonic() + timeout

    def _install_mysql_hooks(self, engine: Engine) -> None:
        timeout = self.statement_timeout

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            if self.read_only:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
            if timeout:
                cursor.execute("SELECT VERSION()")
                is_mariadb = "mariadb" in str(cursor.fetchone()[0]).lower()
                if is_mariadb:
                    cursor.execute("SET SESSION max_statement_time = %s", (float(timeout),))
                else:
                    cursor.execute("SET SESSION max_execution_time = %s", (int(timeout * 1000),))
            cursor.close()

    def _run(self, work: Callable[[Connection], T]) -> T:
        """`work` on a pooled connection. Driver errors become `SourceError`s here,
        and only here. A pooled connection the server closed meanwhile (a restart,
        an idle cut) fails its first statement: the work is run once more on a
        fresh connection (reads only, so repeating is harmless)."""
        with _translated(self.url):
            self._check_file()
            try:
                with self.engine.connect() as conn:
                    return work(conn)
            except exc.DBAPIError as err:
                if not err.connection_invalidated or _is_timeout(err):
                    raise
            with self.engine.connect() as conn:
                return work(conn)

    def _check_file(self) -> None:
        """SQLite: the file must still be the one opened. Gone or renamed: the source
        is unavailable (pooled connections would read a file nobody updates any more);
        replaced by a new file: the pool is emptied so connections open the new one."""
        if self._file is None:
            return
        identity = _identity(self._file)
        if identity == self._file_identity:
            return
        if identity is None:
            raise SourceUnavailable(f"the SQLite database file {self._file} is gone")
        if self._file_identity is not None:
            log.warning("the SQLite database file %s was replaced: reopening it", self._file)
        self._file_identity = identity
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
            views = set(inspector.get_view_names(schema=schema))
            if only_present:
                # Missing tables are left out; the mapping check names them.
                present = set(inspector.get_table_names(schema=schema)) | views
                names = [n for n in names if n in present]
                if not names:
                    continue
            own = set(names) if names else set(inspector.get_table_names(schema=schema)) | views
            metadata = sa.MetaData()
            metadata.reflect(conn, schema=schema, only=names or None, views=True)
            for table in metadata.tables.values():
                # Foreign keys bring in the tables they refer to, from any schema:
                # only the tables asked for are listed (no phantom tables).
                if table.schema != schema or table.name not in own:
                    continue
                ref = TableRef(str(table.name), schema)
                reflected[ref] = table
                infos.append(_table_info(ref, table, "view" if table.name in views else "table"))
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
        stmt, params = self.build(query)
        return self._run(lambda conn: conn.execute(stmt, params).all())  # Rows index like tuples

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
        if self.dialect == "postgresql":
            result = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", params)
            plan = result.scalar_one()
            return int(plan[0]["Plan"]["Plan Rows"])
        positional = tuple(params[name] for name in compiled.positiontup or ())
        result = conn.exec_driver_sql(f"EXPLAIN {compiled}", positional or params)
        rows = result.mappings().all()
        return int(max((r.get("rows") or 0) for r in rows)) if rows else 0

    def ping(self) -> None:
        self._run(lambda conn: conn.execute(sa.select(1)))

    def close(self) -> None:
        self.engine.dispose()


# ---------------------------------------------------------------------- helpers


@contextmanager
def _translated(url: URL) -> Iterator[None]:
    try:
        yield
    except SourceError:
        raise
    except exc.TimeoutError as err:
        raise SourceTimeout("no legacy database connection became free in time") from err
    except (exc.DataError, OverflowError) as err:
        raise UnsupportedQuery("a value does not fit the legacy column's type") from err
    except exc.DBAPIError as err:
        if _is_statement_timeout(err):
            raise SourceTimeout("the legacy database did not answer in time") from err
        if _is_client_timeout(err):
            raise SourceTimeout(describe_failure(url, err)) from err
        raise SourceUnavailable(describe_failure(url, err)) from err


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _is_timeout(err: exc.DBAPIError) -> bool:
    return _is_statement_timeout(err) or _is_client_timeout(err)


def _is_statement_timeout(err: exc.DBAPIError) -> bool:
    """The server ended the statement at its statement timeout."""
    text = str(err.orig).lower() if err.orig is not None else ""
    code = getattr(err.orig, "args", (None,))[0] if err.orig is not None else None
    return (
        "statement timeout" in text
        or "canceling statement" in text
        or "interrupted" in text
        or "max_statement_time" in text
        or code in (1969, 3024)
    )


def _is_client_timeout(err: exc.DBAPIError) -> bool:
    """The client gave up waiting (`sql_timeouts`): to connect, or for an answer."""
    text = str(err.orig).lower() if err.orig is not None else ""
    return (
        sql_timeouts.NO_ANSWER in text
        or "timeout expired" in text  # psycopg's connect_timeout
        or "timed out" in text  # PyMySQL's connect, read and write timeouts
    )


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


def _table_info(ref: TableRef, table: sa.Table, kind: str) -> TableInfo:
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


__all__ = ["SQLAlchemySource"]
