"""The one place that chooses a legacy adapter for a configured source."""

from __future__ import annotations

from legacy_adapters.base import Source
from wrapper.config import SourceConfig


def open_source(config: SourceConfig) -> Source:
    """An adapter for `config.url`: `odbc:...` goes to the ODBC adapter, every
    SQLAlchemy URL to the SQLAlchemy adapter."""
    if config.url.startswith("odbc:"):
        from legacy_adapters.odbc import OdbcSource

        return OdbcSource(
            config.url,
            read_only=config.read_only,
            pool_size=config.pool_size,
            pool_timeout=config.pool_timeout,
            statement_timeout=config.statement_timeout,
        )
    from legacy_adapters.sqlalchemy_source import SQLAlchemySource

    return SQLAlchemySource(
        config.url,
        read_only=config.read_only,
        pool_size=config.pool_size,
        pool_timeout=config.pool_timeout,
        statement_timeout=config.statement_timeout,
    )
