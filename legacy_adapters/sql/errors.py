"""What a SQL driver's connection error means, in one line an operator can act on.

Drivers word the same failure differently (psycopg: `connection to server at
"127.0.0.1", port 5432 failed: Connection refused`; PyMySQL: `(2003, "Can't
connect to MySQL server on '127.0.0.1' ([Errno 111] Connection refused)")`).
`describe_failure` names where the source is (kind, host, port, database; never
the password) and why it failed (refused, timed out, unknown host,
authentication failed, unknown database), with what to check next.
"""

from __future__ import annotations

import re

from sqlalchemy import exc
from sqlalchemy.engine import URL

DEFAULT_PORTS = {
    "postgresql": 5432,
    "mysql": 3306,
    "mariadb": 3306,
    "mssql": 1433,
    "oracle": 1521,
    "db2": 50000,
    "ibm_db_sa": 50000,
}

# (pattern on the driver's message or error code, reason, what to check)
_REASONS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason, hint)
    for pattern, reason, hint in (
        (
            r"connection refused|errno 111\b",
            "connection refused",
            "is the server running and listening on that port?",
        ),
        (
            r"timeout expired|timed out|\(2013,",
            "timed out",
            "check the host, the port and any firewall between",
        ),
        (
            r"name or service not known|failed to resolve host|could not translate host"
            r"|nodename nor servname|temporary failure in name resolution|unknown host",
            "unknown host",
            "check the host name in the URL",
        ),
        (
            r"database \S+ does not exist|unknown database|\(1049,",
            "unknown database",
            "check the database name in the URL",
        ),
        (
            r"role \S+ does not exist|password authentication failed|access denied"
            r"|authentication failed|no pg_hba\.conf entry|\(104[45],",
            "authentication failed",
            "check the user and password in the URL, and that this user may connect",
        ),
        (
            r"unable to open database file",
            "cannot open the file",
            "check that it exists and is readable (the wrapper never creates it)",
        ),
    )
)


def where(url: URL) -> str:
    """`postgresql at 127.0.0.1:5432, database 'erp', user 'reader'` (no password)."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return f"SQLite database {url.database or ':memory:'}"
    port = url.port or DEFAULT_PORTS.get(backend)
    place = f"{backend} at {url.host or 'localhost'}" + (f":{port}" if port else "")
    if url.database:
        place += f", database {url.database!r}"
    if url.username:
        place += f", user {url.username!r}"
    return place


def describe_failure(url: URL, err: exc.DBAPIError) -> str:
    """One line: where the source is, why the driver failed, what to check."""
    message = str(err.orig if err.orig is not None else err)
    for pattern, reason, hint in _REASONS:
        if pattern.search(message):
            return f"{where(url)}: {reason}; {hint}"
    return f"{where(url)}: {_first_line(message)}"


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else "no reason given"
    return re.sub(r"^connection failed: ", "", line)
