"""A legacy source reached through SQLAlchemy: SQLite, PostgreSQL, MariaDB/MySQL, ...

Queries are built with SQLAlchemy Core over *reflected* `Table` objects, so every
identifier comes from reflection and every value is a bound parameter typed with
the reflected column type (on PostgreSQL a CHAR(n) key compared with a `text`
parameter would silently turn an index lookup into a full scan).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

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
        self.engine = self._make_engine(pool_size, pool_timeout)
        self._tables: dict[TableRef, sa.Table] = {}
        self._statements = StatementCache()
        self._metadata = sa.MetaData()

    # ------------------------------------------------------------------ engine

    def _make_engine(self, pool_size: int, pool_timeout: float) -> Engine:
        url: URL = self.url
        connect_args: dict[str, Any] = {}
        # A network database may have dropped idle connections; a file cannot.
        kwargs: dict[str, Any] = {"pool_pre_ping": self.dialect != "sqlite"}
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

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A pooled connection; driver errors become `SourceError`s here, and only here."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SourceError:
            raise
        except exc.TimeoutError as err:
            raise SourceTimeout("no legacy database connection became free in time") from err
        except (exc.DataError, OverflowError) as err:
            raise UnsupportedQuery("a value does not fit the legacy column's type") from err
        except exc.DBAPIError as err:
            if _is_timeout(err):
                raise SourceTimeout("the legacy database did not answer in time") from err
            raise SourceUnavailable(describe_failure(self.url, err)) from err

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
        infos: list[TableInfo] = []
        with self._connect() as conn:
            inspector = sa.inspect(conn)
            for schema, names in wanted.items():
                views = set(inspector.get_view_names(schema=schema))
                if tables is not None:
                    # Missing tables are left out; the mapping check names them.
                    present = set(inspector.get_table_names(schema=schema)) | views
                    names = [n for n in names if n in present]
                    if not names:
                        continue
                own = set(names) if names else None
                if own is None:
                    own = set(inspector.get_table_names(schema=schema)) | views
                metadata = sa.MetaData()
                metadata.reflect(conn, schema=schema, only=names or None, views=True)
                for table in metadata.tables.values():
                    # Foreign keys bring in the tables they refer to, from any schema:
                    # only the tables asked for are listed (no phantom tables).
                    if table.schema != schema or table.name not in own:
                        continue
                    ref = TableRef(str(table.name), schema)
                    self._tables[ref] = table
                    infos.append(
                        _table_info(ref, table, "view" if table.name in views else "table")
                    )
        infos.sort(key=lambda t: (t.ref.schema or "", t.ref.name))
        return Schema(dialect=self.dialect, tables=tuple(infos))

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
        with self._connect() as conn:
            return conn.execute(stmt, params).all()  # Rows index like tuples

    def count(self, query: Select, estimate: bool = False) -> tuple[int, bool]:
        table = self._table(query.table)
        filtered = Select(query.table, (), query.where)
        params = statement_values(filtered)
        where = build_statement(table, filtered, self._table).whereclause
        conditions = () if where is None else (where,)
        if estimate and self.capabilities.count_estimate:
            stmt = sa.select(*table.primary_key.columns or table.c).where(*conditions)
            with self._connect() as conn:
                return self._estimate(conn, stmt.params(params)), False
        stmt = sa.select(sa.func.count()).select_from(table).where(*conditions)
        with self._connect() as conn:
            return int(conn.execute(stmt, params).scalar_one()), True

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
        with self._connect() as conn:
            conn.execute(sa.select(1))

    def close(self) -> None:
        self.engine.dispose()


# ---------------------------------------------------------------------- helpers


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _is_timeout(err: exc.DBAPIError) -> bool:
    text = str(err.orig).lower() if err.orig is not None else ""
    code = getattr(err.orig, "args", (None,))[0] if err.orig is not None else None
    return (
        "statement timeout" in text
        or "canceling statement" in text
        or "interrupted" in text
        or "max_statement_time" in text
        or code in (1969, 3024)
    )


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
