"""PostgreSQL (psycopg): read-only transactions and the statement timeout as
session options (reads in autocommit), failures told apart by SQLSTATE, counts
estimated by EXPLAIN."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.engine import URL, Connection, Engine

from legacy_adapters.sql import timeouts
from legacy_adapters.sql.backends import Backend, EngineSettings, row_text

_QUERY_CANCELED = "57014"  # statement_timeout
# connection exceptions (08...), shutdowns (57P01-03), too many connections,
# out of resources, and the server not accepting connections (e.g. a recovery)
_UNAVAILABLE_PREFIXES = ("08", "57P", "53", "58")


_PARTITIONS = sa.text(
    """SELECT child.relname FROM pg_inherits i
    JOIN pg_class child ON child.oid = i.inhrelid
    JOIN pg_class parent ON parent.oid = i.inhparent
    JOIN pg_namespace n ON n.oid = child.relnamespace
    WHERE parent.relkind = 'p' AND n.nspname = COALESCE(:schema, current_schema())"""
)


class PostgreSQL(Backend):
    name = "postgresql"
    nulls = "greatest"  # the database's own NULL order, which its indexes follow
    count_estimate = True
    unknown_types = (
        "xml", "point", "line", "lseg", "box", "path", "polygon", "circle",
        "geometry", "geography", "tsquery", "txid_snapshot", "pg_lsn",
    )  # fmt: skip

    def install(self, engine: Engine, *, read_only: bool, statement_timeout: float | None) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            lenient_temporal_loaders(dbapi_conn)

    def hidden_tables(self, conn: Connection, schema: str | None) -> set[str]:
        """Partitions of a partitioned table: its rows are read through the parent."""
        return set(conn.execute(_PARTITIONS, {"schema": schema}).scalars())

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
        if read_only:
            # Every statement is read-only and bounded by the session options above,
            # and reads at READ COMMITTED take a snapshot per statement anyway: without
            # a transaction around it, a read costs one round trip, not BEGIN, SELECT
            # and ROLLBACK on return to the pool.
            settings.options["isolation_level"] = "AUTOCOMMIT"
        return settings

    def reads_leave_nothing(self, read_only: bool) -> bool:
        return read_only  # reads run in autocommit (`settings`)

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


_TEMPORAL = ("date", "time", "timetz", "timestamp", "timestamptz", "interval")


def lenient_temporal_loaders(dbapi_conn: Any) -> None:
    """Dates and times Python cannot hold (`infinity`, `-infinity`, BC dates,
    `24:00:00`, intervals beyond 999,999,999 days) come back as PostgreSQL's text
    instead of failing the whole result: the facade renders or names them."""
    import psycopg
    from psycopg.adapt import Loader

    for name in _TEMPORAL:
        info = psycopg.adapters.types.get(name)
        if info is None:
            continue
        base = dbapi_conn.adapters.get_loader(info.oid, psycopg.pq.Format.TEXT)
        if base is None:
            continue

        class Lenient(Loader):
            _base_class = base

            def __init__(self, oid: int, context: Any = None) -> None:
                super().__init__(oid, context)
                self._base = self._base_class(oid, context)

            def load(self, data: Any) -> Any:
                try:
                    return self._base.load(data)
                except (psycopg.DataError, ValueError, OverflowError):
                    return bytes(data).decode()

        dbapi_conn.adapters.register_loader(info.oid, Lenient)


def _sqlstate(err: exc.DBAPIError) -> str | None:
    return getattr(err.orig, "sqlstate", None)
