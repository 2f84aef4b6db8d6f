"""The events tables in the wrapper's own state database (SQLite or PostgreSQL).

Times are seconds since the epoch (floats), as in the rest of the state
database. Deliveries move through these states:

- `pending`: waiting for its first attempt;
- `failed`: the last attempt failed and another is scheduled (`next_attempt_at`);
- `succeeded`: a 2xx answer was recorded;
- `dead`: every attempt of the schedule failed (the dead-letter queue; replayable).

`pending` and `failed` deliveries are open: they are claimed when due, while
their subscription is active and no earlier open delivery of the same key
to the same subscription exists. A claim sets `lease_until`; a worker that
dies holding a lease leaves the delivery open, and it is claimed again once
the lease has run out.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa

from wrapper.state.ddl import again_after_pause, create_missing, raced

PENDING, FAILED, SUCCEEDED, DEAD = "pending", "failed", "succeeded", "dead"
OPEN = (PENDING, FAILED)

metadata = sa.MetaData()
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

subscriptions = sa.Table(
    "lw_event_subscriptions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False, index=True),
    sa.Column("api_version", sa.String(20), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("event_types", sa.Text, nullable=False),  # JSON list of patterns
    sa.Column("filter", sa.Text),
    # JSON {"scopes": [...], "claims": {...}} of the owner's credentials, from which
    # its row rules and hidden fields are rebuilt for every event; null: sees all.
    sa.Column("owner_grant", sa.Text),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.Text),
    sa.Column("disabled_at", sa.Float),
    sa.Column("failing_since", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

secrets = sa.Table(
    "lw_event_secrets",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column(
        "subscription_id",
        sa.ForeignKey(subscriptions.c.id, ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("secret", sa.String(100), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float),  # None while current
)

outbox = sa.Table(
    "lw_event_outbox",
    metadata,
    sa.Column("seq", _Id, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("type", sa.String(200), nullable=False),
    sa.Column("resource", sa.String(200), nullable=False),
    sa.Column("version", sa.String(20), nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("time", sa.Float, nullable=False, index=True),
    sa.Column("data", sa.Text, nullable=False),  # JSON
    sa.Column("changed_fields", sa.Text, nullable=False),  # JSON list
    sa.Column("previous", sa.Text),  # JSON: what row rules need of the row before
    sa.Column("dispatched_at", sa.Float),
)
sa.Index(
    "ix_lw_event_outbox_undispatched",
    outbox.c.seq,
    postgresql_where=outbox.c.dispatched_at.is_(None),
    sqlite_where=outbox.c.dispatched_at.is_(None),
)

deliveries = sa.Table(
    "lw_event_deliveries",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column(
        "subscription_id",
        sa.ForeignKey(subscriptions.c.id, ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("event_seq", sa.ForeignKey(outbox.c.seq, ondelete="CASCADE"), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False, index=True),
    sa.Column("event_type", sa.String(200), nullable=False),
    sa.Column("ordering_key", sa.Text),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("lease_until", sa.Float),
    sa.Column("leased_by", sa.String(100)),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("completed_at", sa.Float),
)


def is_open(table: sa.TableClause) -> sa.ColumnElement[bool]:
    """`status IN ('pending', 'failed')` written out, not bound: SQLite, and PostgreSQL
    with a generic plan, use a partial index only when the query spells its condition."""
    return table.c.status.in_([sa.literal_column(f"'{status}'") for status in OPEN])


_open = is_open(deliveries)
sa.Index(
    "ix_lw_event_deliveries_due",
    deliveries.c.next_attempt_at,
    deliveries.c.id,
    postgresql_where=_open,
    sqlite_where=_open,
)
sa.Index(
    "ix_lw_event_deliveries_key",
    deliveries.c.subscription_id,
    deliveries.c.ordering_key,
    deliveries.c.event_seq,
    postgresql_where=_open,
    sqlite_where=_open,
)
sa.Index("ix_lw_event_deliveries_log", deliveries.c.subscription_id, deliveries.c.id)

attempts = sa.Table(
    "lw_event_attempts",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column(
        "delivery_id",
        sa.ForeignKey(deliveries.c.id, ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("attempted_at", sa.Float, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """WAL mode, kept in the file once set. Processes switching a new file at once
    can be refused `database is locked` at once, without SQLite's busy wait: the
    loser tries again after a short pause (at most about 3 s in all)."""
    again_after_pause(
        lambda: cursor.execute("PRAGMA journal_mode=WAL"),
        lambda err: isinstance(err, sqlite3.OperationalError) and "locked" in str(err),
        attempts=50,
    )


def _add_missing_columns(engine: sa.Engine) -> None:
    """Columns added since a state database was created (nullable ones only)."""
    inspector = sa.inspect(engine)
    for table in (subscriptions, outbox):
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have and column.nullable:
                kind = column.type.compile(engine.dialect)
                try:
                    with engine.begin() as conn:
                        conn.exec_driver_sql(
                            f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"
                        )
                except sa.exc.DBAPIError as err:
                    if not raced(err):  # another worker added it first
                        raise


def connect(url: str, **engine_options: Any) -> sa.Engine:
    """An engine for the events tables, creating them when missing.

    On SQLite, several processes share the file: WAL lets readers work beside
    the one writer, writers wait up to 30 s for each other, and every
    transaction that writes starts with its write, so it never has to upgrade
    a read snapshot.
    """
    import wrapper.events.capture.tables  # noqa: F401  (capture's tables join the metadata)

    if url in ("sqlite://", "sqlite:///:memory:"):  # one database shared by every thread
        engine_options.setdefault("poolclass", sa.StaticPool)
        engine_options.setdefault("connect_args", {"check_same_thread": False})
    if url.startswith("sqlite"):
        engine_options.setdefault("connect_args", {"timeout": 30})
        engine = sa.create_engine(url, **engine_options)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine_options.setdefault("pool_pre_ping", True)
        engine = sa.create_engine(url, **engine_options)
    create_missing(engine, metadata)
    _add_missing_columns(engine)
    return engine
