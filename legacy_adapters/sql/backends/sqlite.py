"""SQLite: a file opened read-only, a progress handler for the statement timeout."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Engine

from legacy_adapters.sql import timeouts
from legacy_adapters.sql.backends import Backend, EngineSettings

# sqlite3 result codes (https://sqlite.org/rescode.html), primary codes only
_INTERRUPT = 9  # the progress handler stopped the statement: our statement timeout
_UNAVAILABLE = {5, 6, 10, 14, 26}  # BUSY, LOCKED, IOERR, CANTOPEN, NOTADB


class SQLite(Backend):
    name = "sqlite"
    nulls = "least"  # the database's own NULL order, which its indexes follow
    schemas = False
    checksums = True

    def row_hash(self, columns: list[sa.ColumnElement[Any]]) -> sa.ColumnElement[int]:
        """SQLite has no hash function: `lw_row_hash`, registered on each connection
        (`install`), hashes in the process but inside the query, so a range's
        checksum still costs one aggregate query and no rows fetched."""
        return sa.func.lw_row_hash(*columns, type_=sa.BigInteger)

    def hash_sum(self, hashes: sa.ColumnElement[int]) -> sa.ColumnElement[Any]:
        # SQLite's sum() overflows past 2**63: an exact sum, returned as text
        return sa.func.lw_hash_sum(hashes, type_=sa.Text)

    def settings(
        self,
        url: URL,
        *,
        read_only: bool,
        pool_size: int,
        pool_timeout: float,
        statement_timeout: float | None,
        bounds: timeouts.Bounds,
    ) -> EngineSettings:
        database = url.database or ""
        on_disk = bool(database) and database != ":memory:"
        if read_only and on_disk and not database.startswith("file:"):
            url = url.set(database=f"file:{database}?mode=ro", query={"uri": "true"})
        options = {}
        if on_disk:
            options = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": pool_timeout}
        return EngineSettings(url, {"check_same_thread": False}, options)

    def install(self, engine: Engine, *, read_only: bool, statement_timeout: float | None) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.execute("PRAGMA cache_size=-16000")
            # SQLite's lower() folds ASCII only; `like` must fold every letter.
            dbapi_conn.create_function("lower", 1, _lower, deterministic=True)
            dbapi_conn.create_function("lw_row_hash", -1, _row_hash, deterministic=True)
            dbapi_conn.create_aggregate("lw_hash_sum", 1, _HashSum)
            # LIKE 'prefix%' compares case-sensitively, as `=` does, and can use an index.
            dbapi_conn.execute("PRAGMA case_sensitive_like=ON")
            if read_only:
                dbapi_conn.execute("PRAGMA query_only=ON")
            if statement_timeout:
                deadline = [0.0]
                record.info["lw_deadline"] = deadline

                def _progress() -> int:
                    return 1 if deadline[0] and time.monotonic() > deadline[0] else 0

                dbapi_conn.set_progress_handler(_progress, 10_000)
                record.info["lw_rearm"] = lambda: deadline.__setitem__(
                    0, time.monotonic() + statement_timeout
                )  # a kept connection's next read (`sql/kept.py`)

        if statement_timeout:
            # SQLite has no statement timeout: the progress handler interrupts any
            # statement once the connection has been checked out for `timeout`
            # seconds (one checkout serves one read: a page and its expansions).
            # A pool event, not a per-statement one, keeps execution on the fast path.
            @event.listens_for(engine, "checkout")
            def _arm(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
                deadline = record.info.get("lw_deadline")
                if deadline is not None:
                    deadline[0] = time.monotonic() + statement_timeout

    def reads_leave_nothing(self, read_only: bool) -> bool:
        # sqlite3 opens no transaction for a SELECT; the cursor is closed after it
        return True

    def exact(self, col: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """Text by its bytes: a column declared COLLATE NOCASE or RTRIM takes `abc`
        and `ABC ` as equal, which a keyless table's duplicate count cannot follow."""
        if isinstance(col.type, sa.String):
            return col.collate("BINARY")
        return col

    def prepare(self, table: sa.Table) -> None:
        for col in table.columns:
            if isinstance(col.type, _AS_STORED):
                col.type = AsStored(col.type)

    def is_statement_timeout(self, err: exc.DBAPIError) -> bool:
        return _code(err) == _INTERRUPT

    def is_unavailable(self, err: exc.DBAPIError) -> bool:
        return err.connection_invalidated or _code(err) in _UNAVAILABLE


class AsStored(sa.types.TypeDecorator):  # type: ignore[type-arg]
    """A SQLite DATE, DATETIME, TIME or BOOLEAN column, read as stored where it does
    not hold what its type says.

    SQLite keeps whatever the application wrote (`25/11/2026`, `20261125`, Unix
    seconds, `'t'`/`'f'`): SQLAlchemy's own parsing fails the page on such a value
    or turns `'f'` into True. ISO text and 0/1 still come back as dates and
    booleans; anything else comes back untouched for the facade's converters to
    render (or name as unrenderable). Python dates and booleans are written as
    SQLAlchemy writes them, anything else (a value from a cursor) as is."""

    impl = sa.types.NullType
    cache_ok = True

    def __init__(self, declared: sa.types.TypeEngine[Any]) -> None:
        super().__init__()
        self.declared = declared

    def load_dialect_impl(self, dialect: Any) -> sa.types.TypeEngine[Any]:
        return self.declared.dialect_impl(dialect)

    def bind_processor(self, dialect: Any) -> Any:
        declared = self.declared.dialect_impl(dialect)
        process = declared.bind_processor(dialect)
        python_type = self.declared.python_type
        if process is None:
            return None

        def bind(value: Any) -> Any:
            return process(value) if isinstance(value, python_type) else value

        return bind

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if isinstance(self.declared, sa.Boolean):
            return _flag
        process = self.declared.dialect_impl(dialect).result_processor(dialect, coltype)
        if process is None:
            return None

        def load(value: Any) -> Any:
            try:
                return process(value)
            except (ValueError, TypeError, OverflowError):
                return value

        return load

    def filter_form(self, col: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """What `=`, `<>` and `IN` compare: a BOOLEAN as 1/0 whichever way it was
        stored (1, '1', 't', 'true', 'y', 'yes'; 0, 'f', ...), so that `flag=true`
        finds the rows the facade shows as true. Other types: as stored."""
        if not isinstance(self.declared, sa.Boolean):
            return col
        text = sa.func.lower(sa.func.trim(sa.cast(col, sa.Text)))
        as_flag = sa.case(
            (text.in_([sa.literal_column(f"'{t}'") for t in _TRUE]), sa.literal_column("1")),
            (text.in_([sa.literal_column(f"'{f}'") for f in _FALSE]), sa.literal_column("0")),
            else_=sa.null(),
        )
        return sa.type_coerce(as_flag, sa.Integer)

    @property
    def python_type(self) -> type:
        return self.declared.python_type


def _flag(value: Any) -> Any:
    """0 and 1 as booleans; any other stored value as it is."""
    return bool(value) if isinstance(value, int) and value in (0, 1) else value


_AS_STORED = (sa.Date, sa.DateTime, sa.Time, sa.Boolean)
# Constants (not parameters): the spellings of a stored boolean.
_TRUE = ("1", "t", "true", "y", "yes")
_FALSE = ("0", "f", "false", "n", "no")


def _code(err: exc.DBAPIError) -> int | None:
    if isinstance(err.orig, sqlite3.Error):
        code = getattr(err.orig, "sqlite_errorcode", None)
        return code & 0xFF if isinstance(code, int) else None
    return None


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _row_hash(*values: Any) -> int:
    digest = hashlib.blake2b(repr(values).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 4  # 60 bits, as on the other backends


class _HashSum:
    def __init__(self) -> None:
        self.total = 0

    def step(self, value: int | None) -> None:
        if value is not None:
            self.total += value

    def finalize(self) -> str:
        return str(self.total)
