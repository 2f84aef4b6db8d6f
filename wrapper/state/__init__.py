"""The wrapper's own database, never the legacy one: OAuth clients, API keys,
signing keys, cursor keys (`store.py`) and the change-event tables (subscriptions,
the outbox, deliveries: `wrapper/events/tables.py`), in one SQLite file by default
or PostgreSQL when several hosts serve."""

from wrapper.state.store import StateStore

__all__ = ["StateStore"]
