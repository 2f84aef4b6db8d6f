"""MariaDB and MySQL (PyMySQL): a read-only session, the server's own statement
time limit, failures told apart by error number, counts estimated by EXPLAIN."""

from __future__ import annotations

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
    count_estimate = True
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


def _errno(err: exc.DBAPIError) -> int | None:
    args = getattr(err.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None
