"""One small policy per SQL backend: what differs between SQLite, PostgreSQL and
MariaDB/MySQL (and, best effort, any other SQLAlchemy dialect) when the
wrapper connects, reads and recognises failures.

A `Backend` says how to open a bounded, read-only engine (connect arguments,
session settings, the statement timeout), how to tell a statement timeout, a
client-side timeout and a lost or refused connection apart from a query the
database rejects (by error codes, not message text, wherever the driver
reports one), and how to estimate a count. `source.py` holds no backend names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import URL, Connection, Engine

from legacy_adapters.base import RANGE_CHECKSUMS, Capabilities
from legacy_adapters.sql import timeouts
from legacy_adapters.sql.keyset import NullOrder


@dataclass
class EngineSettings:
    """What `create_engine` is given."""

    url: URL
    connect_args: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


class Backend:
    """The defaults: a network database reached through some SQLAlchemy dialect."""

    name = "generic"
    count_estimate = False
    schemas = True
    # Where NULL sorts (`keyset`): unknown here, so made explicit in every ORDER BY.
    nulls: NullOrder = "explicit"
    # Type names the dialect reflects as NullType: reported under their own name.
    unknown_types: tuple[str, ...] = ()

    def capabilities(self, read_only: bool) -> Capabilities:
        extra = frozenset({RANGE_CHECKSUMS}) if self.checksums else frozenset()
        return Capabilities(
            count_estimate=self.count_estimate,
            schemas=self.schemas,
            read_only_enforced=read_only,
            nulls_sort="least" if self.nulls == "least" else "greatest",
            extra=extra,
        )

    checksums = False  # row_hash and hash_sum are implemented: range checksums

    def reads_leave_nothing(self, read_only: bool) -> bool:
        """A read leaves no transaction or snapshot open on its connection, so a
        serving thread may keep the connection for its next read (`sql/kept.py`)."""
        return False

    def row_hash(self, columns: list[sa.ColumnElement[Any]]) -> sa.ColumnElement[int]:
        """A row's hash computed by the database: an integer below 2**60."""
        raise NotImplementedError

    def hash_sum(self, hashes: sa.ColumnElement[int]) -> sa.ColumnElement[Any]:
        """The exact sum of row hashes (an integer, a decimal or its text)."""
        return sa.func.sum(hashes)

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
        return EngineSettings(
            url,
            timeouts.connect_args(url, bounds),
            {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": pool_timeout},
        )

    def install(self, engine: Engine, *, read_only: bool, statement_timeout: float | None) -> None:
        """Session settings every new connection gets (read-only, statement timeout)."""

    def exact(self, col: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """`col` as the database compares it exactly (no two values a client can tell
        apart compare equal): used to sort and page where the sort is not unique."""
        return col

    def prepare(self, table: sa.Table) -> None:
        """Adjust a reflected table before it is described and read."""

    def hidden_tables(self, conn: Connection, schema: str | None) -> set[str]:
        """Tables read through another one (PostgreSQL partitions): never listed."""
        return set()

    def is_statement_timeout(self, err: exc.DBAPIError) -> bool:
        """The server ended the statement at its statement timeout."""
        return False

    def is_client_timeout(self, err: exc.DBAPIError) -> bool:
        """The client gave up waiting for an answer (`timeouts`)."""
        return timeouts.NO_ANSWER in str(err.orig)

    def is_unavailable(self, err: exc.DBAPIError) -> bool:
        """The connection was refused, lost or could not be made: the database, not
        the query, is the problem (503). Anything else is a rejected query (500)."""
        return err.connection_invalidated or isinstance(
            err, exc.OperationalError | exc.InterfaceError
        )

    def estimate(self, conn: Connection, sql: str, params: Any) -> int | None:
        """The planner's row estimate for a compiled statement; None: cannot."""
        return None


def row_text(columns: list[sa.ColumnElement[Any]]) -> sa.ColumnElement[str]:
    """The columns as one text, a NULL told apart from every value: each column
    is `v<value as text>` or empty, joined by the unit separator (0x1F)."""
    parts = [
        sa.func.coalesce(_text("'v'").concat(sa.cast(c, sa.Text)), _text("''")) for c in columns
    ]
    return sa.func.concat_ws(_text("'\x1f'"), *parts, type_=sa.Text)


def _text(sql: str) -> sa.ColumnElement[str]:
    return sa.literal_column(sql, sa.Text)


def backend_for(url: URL) -> Backend:
    name = url.get_backend_name()
    if name == "sqlite":
        from legacy_adapters.sql.backends.sqlite import SQLite

        return SQLite()
    if name == "postgresql":
        from legacy_adapters.sql.backends.postgresql import PostgreSQL

        return PostgreSQL()
    if name in ("mysql", "mariadb"):
        from legacy_adapters.sql.backends.mysql import MySQL

        return MySQL()
    return Backend()
