"""MariaDB and MySQL (PyMySQL): a read-only session, the server's own statement
time limit, failures told apart by error number, counts estimated by EXPLAIN."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

from legacy_adapters.sql.backends import Backend, row_text

_STATEMENT_TIMEOUTS = {1969, 3024}  # MariaDB max_statement_time, MySQL max_execution_time
# client: cannot connect, server gone, lost during query, too many connections,
# server shutting down, unknown database, access denied
_UNAVAILABLE = {2002, 2003, 2005, 2006, 2013, 2055, 1040, 1053, 1049, 1044, 1045, 1698, 1152, 1927}


class MySQL(Backend):
    name = "mysql"
    nulls = "least"  # the database's own NULL order, which its indexes follow
    count_estimate = True
    unknown_types = (
        "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
        "multipolygon", "geometrycollection",
    )  # fmt: skip

    def exact(self, col: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """Text by its bytes: the default collations fold case and accents and ignore
        trailing spaces (`abc` = `ABC`), which a keyless table's duplicate count
        cannot follow. Parameters keep the column's own type."""
        if isinstance(col.type, sa.String | sa.Enum):
            return sa.type_coerce(sa.cast(col, sa.LargeBinary), col.type)
        return col

    checksums = True

    def row_hash(self, columns: list[sa.ColumnElement[Any]]) -> sa.ColumnElement[int]:
        """The first 60 bits of the MD5 of the row's text (SUM() of them is a DECIMAL)."""
        digest = sa.func.substring(sa.func.md5(row_text(columns)), 1, 15)
        return sa.cast(sa.func.conv(digest, 16, 10), sa.BigInteger)

    def install(self, engine: Engine, *, read_only: bool, statement_timeout: float | None) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            if read_only:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
            if statement_timeout:
                cursor.execute("SELECT VERSION()")
                if "mariadb" in str(cursor.fetchone()[0]).lower():
                    cursor.execute(
                        "SET SESSION max_statement_time = %s", (float(statement_timeout),)
                    )
                else:
                    cursor.execute(
                        "SET SESSION max_execution_time = %s", (int(statement_timeout * 1000),)
                    )
            cursor.close()

    def prepare(self, table: sa.Table) -> None:
        for col in table.columns:
            if isinstance(col.type, sa.Time):
                col.type = Duration(col.type)

    def is_statement_timeout(self, err: exc.DBAPIError) -> bool:
        return _errno(err) in _STATEMENT_TIMEOUTS

    def is_client_timeout(self, err: exc.DBAPIError) -> bool:
        # PyMySQL's read/write timeouts surface as "lost connection" (2013) with a timeout
        return super().is_client_timeout(err) or (
            _errno(err) == 2013 and "timed out" in str(err.orig)
        )

    def is_unavailable(self, err: exc.DBAPIError) -> bool:
        code = _errno(err)
        if err.connection_invalidated or code in _UNAVAILABLE:
            return True
        return code is None and isinstance(err, exc.OperationalError | exc.InterfaceError)

    def estimate(self, conn: Connection, sql: str, params: Any) -> int | None:
        rows = conn.exec_driver_sql(f"EXPLAIN {sql}", params).mappings().all()
        return int(max((r.get("rows") or 0) for r in rows)) if rows else 0


class Duration(sa.types.TypeDecorator):  # type: ignore[type-arg]
    """A MySQL/MariaDB TIME as the driver returns it: a timedelta from -838:59:59
    to 838:59:59. (SQLAlchemy's TIME turns 26:00:00 into the time of day 02:00:00.)"""

    impl = sa.types.Interval
    cache_ok = True

    def __init__(self, declared: sa.types.TypeEngine[Any]) -> None:
        super().__init__()
        self.declared = declared

    def load_dialect_impl(self, dialect: Any) -> sa.types.TypeEngine[Any]:
        return self.declared.dialect_impl(dialect)

    def bind_processor(self, dialect: Any) -> Any:
        return None  # PyMySQL writes a time or a timedelta itself

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        return None

    @property
    def python_type(self) -> type:
        return dt.timedelta


def _errno(err: exc.DBAPIError) -> int | None:
    args = getattr(err.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None
