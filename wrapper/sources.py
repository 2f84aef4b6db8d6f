"""The one place that chooses a legacy adapter for a configured source, and that
says what to do, in one line, when a source URL cannot be used at all.

A URL that does not parse, names no known kind of database, needs a driver that
is not installed raises `SourceUrlError` here,
whoever asked (`inspect`, `init`, `serve`, `openapi`). Failures to reach a
source that can be opened (refused, timed out, authentication, unknown database)
are worded by the adapter itself (`legacy_adapters.sql.errors`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import URL, make_url

from legacy_adapters.base import Source, SourceError
from wrapper.config import SourceConfig

EXAMPLE_URLS = "postgresql+psycopg://user@host/erp or sqlite:///plant.db"

# What to install when SQLAlchemy knows the dialect but its driver module is missing.
DRIVER_HINTS = {
    "oracledb": "pip install 'legacy-wrapper[oracle]'",
    "cx_Oracle": "use oracle+oracledb:// and pip install 'legacy-wrapper[oracle]'",
    "pyodbc": "pip install 'legacy-wrapper[mssql]'",
    "pymssql": "pip install pymssql, or use mssql+pyodbc:// (pip install 'legacy-wrapper[mssql]')",
    "ibm_db": "pip install 'legacy-wrapper[db2]'",
    "psycopg2": "use postgresql+psycopg:// (installed), or pip install psycopg2-binary",
    "MySQLdb": "use mysql+pymysql:// (installed), or pip install mysqlclient",
    "mysql": "use mysql+pymysql:// (installed), or pip install mysql-connector-python",
}
# Dialects that come in a package of their own.
DIALECT_HINTS = {
    "db2": "pip install 'legacy-wrapper[db2]'",
    "ibm_db_sa": "pip install 'legacy-wrapper[db2]'",
    "ibmi": "pip install sqlalchemy-ibmi",
}
# Spellings SQLAlchemy does not accept, and the URL scheme meant.
RENAMED = {"postgres": "postgresql+psycopg", "pgsql": "postgresql+psycopg"}


class SourceUrlError(SourceError):
    """The source URL cannot be used; the message says why and what to do."""


def open_source(config: SourceConfig) -> Source:
    """An adapter for a configured source, by its kind: `odbc` (an `odbc:...`
    connection string) goes to the ODBC adapter, `sql` (any SQLAlchemy URL) to the
    SQLAlchemy adapter. Raises `SourceUrlError` when the URL cannot be used
    (nothing is connected yet). A `files` source loads the exports already
    dropped before it returns (see `legacy_adapters.files.source`)."""
    if config.kind == "files":
        return _files_source(config)
    if config.kind == "odbc":
        from legacy_adapters.odbc import OdbcSource

        return OdbcSource(
            config.url,
            read_only=config.read_only,
            pool_size=config.pool_size,
            pool_timeout=config.pool_timeout,
            statement_timeout=config.statement_timeout,
        )
    from legacy_adapters.sql import SQLAlchemySource

    url = parse_source_url(config.url)
    try:
        return SQLAlchemySource(
            config.url,
            read_only=config.read_only,
            pool_size=config.pool_size,
            pool_timeout=config.pool_timeout,
            statement_timeout=config.statement_timeout,
        )
    except ImportError as err:  # SQLAlchemy imports the driver when it builds the engine
        raise SourceUrlError(_missing_driver(url, err)) from None
    except exc.ArgumentError as err:
        raise SourceUrlError(f"{_shown(config.url)}: {_first_line(err)}") from None


def _files_source(config: SourceConfig) -> Source:
    from legacy_adapters.files.source import FilesSource

    files = config.files
    if files is None or files.store is None:
        raise SourceUrlError(f"{config.url}: a files source needs its `tables:` and a store folder")
    return FilesSource(
        files.tables,
        files.store,
        check_interval=files.check_interval,
        pool_size=config.pool_size,
        pool_timeout=config.pool_timeout,
        statement_timeout=config.statement_timeout,
    )


def discover_exports(
    folder: str, layouts: Path | None, encoding: str
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The exports in `folder` as `tables:` entries of a files source, and the files
    left out (`legacy_adapters.files.discover`), for `inspect` and `init`."""
    from legacy_adapters.files.discover import discover

    return discover(folder, layouts, encoding=encoding)


def parse_source_url(text: str) -> URL:
    """The parsed URL, once its kind of database is known to be usable."""
    try:
        url = make_url(text)
    except (exc.ArgumentError, ValueError) as err:
        why = f" ({_first_line(err)})" if isinstance(err, ValueError) else ""
        raise SourceUrlError(
            f"{_shown(text)} is not a database URL{why}: give a SQLAlchemy URL such as "
            f"{EXAMPLE_URLS}"
        ) from None
    try:
        url.get_dialect()
    except exc.NoSuchModuleError:
        backend = url.get_backend_name()
        if backend in RENAMED:
            raise SourceUrlError(
                f"{backend}:// is spelt {RENAMED[backend]}:// in a SQLAlchemy URL"
            ) from None
        hint = DIALECT_HINTS.get(backend)
        if hint:
            raise SourceUrlError(
                f"{url.drivername}:// needs a dialect that is not installed: {hint}"
            ) from None
        raise SourceUrlError(
            f"unknown kind of database {url.drivername!r} in the source URL: give a "
            f"SQLAlchemy URL such as {EXAMPLE_URLS}"
        ) from None
    except ImportError as err:  # a third-party dialect whose own imports fail
        raise SourceUrlError(_missing_driver(url, err)) from None
    return url


def _missing_driver(url: URL, err: ImportError) -> str:
    module = (err.name or "").split(".")[0]
    text = str(err)
    if "libodbc" in text:
        return (
            f"{url.drivername}:// needs the system's ODBC driver manager, which is missing "
            f"({_first_line(err)}): apt-get install unixodbc (or your system's unixODBC)"
        )
    hint = DRIVER_HINTS.get(module, f"pip install {module}" if module else "see its documentation")
    missing = module or text
    return f"{url.drivername}:// needs the driver {missing!r}, which is not installed: {hint}"


def _shown(text: str) -> str:
    """The URL as typed, without a password."""
    return repr(re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", text))


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
