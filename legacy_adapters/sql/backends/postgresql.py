"""PostgreSQL (psycopg): read-only transactions and the statement timeout as
session options, failures told apart by SQLSTATE, counts estimated by EXPLAIN."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.engine import URL, Connection

from legacy_adapters.sql import timeouts
from legacy_adapters.sql.backends import Backend, EngineSettings, row_text

_QUERY_CANCELED = "57014"  # statement_timeout
# connection exceptions (08...), shutdowns (57P01-03), too many connections,
# out of resources, and the server not accepting connections (e.g. a recovery)
_UNAVAILABLE_PREFIXES = ("08", "57P", "53", "58")


class PostgreSQL(Backend):
    name = "postgresql"
    count_estimate = True
    checksums = True

    def row_hash(self, columns: list[sa.ColumnElement[Any]]) -> sa.ColumnElement[int]:
        """The first 60 bits of the MD5 of the row's text (sum() of bigint is numeric)."""
        digest = sa.func.substr(sa.func.md5(row_text(columns)), 1, 15, type_=sa.Text)
        bits = sa.cast(sa.literal_column("'x'", sa.Text).concat(digest), BIT(60))
        return sa.cast(bits, sa.BigInteger)

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
