"""Legacy databases reached through SQLAlchemy: `source.py` is the adapter;
`backends/` one small policy per backend (connecting, read-only sessions,
timeouts, recognising failures, count estimates); `statements.py` and
`keyset.py` build Core statements per query shape; `reflection.py` turns
reflected tables into `TableInfo`; `timeouts.py` bounds every wait on the
client side; `errors.py` says in one line why a connection failed."""

from legacy_adapters.sql.source import SQLAlchemySource

__all__ = ["SQLAlchemySource"]
