"""PostgreSQL (psycopg): read-only transactions and the statement timeout as
session options (reads in autocommit), failures told apart by SQLSTATE, counts
estimated by EXPLAIN."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import URL, Connection

from legacy_adapters.sql import timeouts
from legacy_adapters.sql.backends import Backend, EngineSettings

_QUERY_CANCELED = "57014"  # statement_timeout
# connection exceptions (08...), shutdowns (57P01-03), too many connections,
# out of resources, and the server not accepting connections (e.g. a recovery)
_UNAVAILABLE_PREFIXES = ("08", "57P", "53", "58")


class PostgreSQL(Backend):
    name = "postgresql"
    count_estimate = True

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
        settings = super().settings(
            url,
            read_only=read_only,
            pool_size=pool_size,
            pool_timeout=pool_timeout,
            statement_timeout=statement_timeout,
            bounds=bounds,
        )
        options = []
        if read_only:
            options.append("-c default_transaction_read_only=on")
        if statement_timeout:
            options.append(f"-c statement_timeout={int(statement_timeout * 1000)}")
        if options:
            settings.connect_args["options"] = " ".join(options)
        if read_only:
            # Every statement is read-only and bounded by the session options above,
            # and reads at READ COMMITTED take a snapshot per statement anyway: without
            # a transaction around it, a read costs one round trip, not BEGIN, SELECT
            # and ROLLBACK on return to the pool.
            settings.options["isolation_level"] = "AUTOCOMMIT"
        return settings

    def is_statement_timeout(self, err: exc.DBAPIError) -> bool:
        return _sqlstate(err) == _QUERY_CANCELED

    def is_client_timeout(self, err: exc.DBAPIError) -> bool:
        # psycopg reports libpq's connect_timeout without a SQLSTATE
        return super().is_client_timeout(err) or (
            _sqlstate(err) is None and "timeout expired" in str(err.orig)
        )

    def is_unavailable(self, err: exc.DBAPIError) -> bool:
        state = _sqlstate(err)
        if err.connection_invalidated:
            return True
        if state is None:  # no SQLSTATE: the connection itself failed
            return isinstance(err, exc.OperationalError | exc.InterfaceError)
        return state.startswith(_UNAVAILABLE_PREFIXES)

    def estimate(self, conn: Connection, sql: str, params: Any) -> int | None:
        plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", params).scalar_one()
        return int(plan[0]["Plan"]["Plan Rows"])


def _sqlstate(err: exc.DBAPIError) -> str | None:
    return getattr(err.orig, "sqlstate", None)
