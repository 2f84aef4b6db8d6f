"""Building a demo or test database in bulk: a fast loading engine, and views
created with names quoted by the target dialect."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import ExecutableDDLElement
from sqlalchemy.sql.compiler import DDLCompiler


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's BEGIN below drive transactions, so DDL is transactional too.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=OFF")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


@contextmanager
def loading_engine(url: str) -> Iterator[Engine]:
    """An engine suited to building a database in bulk; disposed on exit.

    On SQLite the journal and fsyncs are switched off and every transaction,
    DDL included, is a real one, which makes large loads many times faster.
    """
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
    try:
        yield engine
    finally:
        engine.dispose()


class _CreateView(ExecutableDDLElement):
    def __init__(self, name: str, query: sa.Select, schema: str | None) -> None:
        self.view = sa.table(name, schema=schema)
        self.query = query


class _DropView(ExecutableDDLElement):
    def __init__(self, name: str, schema: str | None) -> None:
        self.view = sa.table(name, schema=schema)


@compiles(_CreateView)
def _compile_create_view(element: _CreateView, compiler: DDLCompiler, **kw: Any) -> str:
    view = compiler.preparer.format_table(element.view)
    body = compiler.sql_compiler.process(element.query, literal_binds=True)
    return f"CREATE VIEW {view} AS {body}"


@compiles(_DropView)
def _compile_drop_view(element: _DropView, compiler: DDLCompiler, **kw: Any) -> str:
    return f"DROP VIEW IF EXISTS {compiler.preparer.format_table(element.view)}"


def create_view(
    conn: Connection, name: str, query: sa.Select, *, schema: str | None = None
) -> None:
    """Create view ``name`` over ``query``, with names quoted by the connection's dialect."""
    conn.execute(_CreateView(name, query, schema))


def drop_view(conn: Connection, name: str, *, schema: str | None = None) -> None:
    """Drop view ``name`` if it exists."""
    conn.execute(_DropView(name, schema))
