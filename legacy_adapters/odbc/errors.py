"""ODBC errors translated into the adapter error tree, by SQLSTATE only.

Driver messages differ between vendors, versions and languages; the SQLSTATE
(the first element of a pyodbc error's `args`) is the part ODBC standardises:

=============================  ==========================================
SQLSTATE                       becomes
=============================  ==========================================
HYT00 HYT01 HY008 57014 70100  `SourceTimeout` (query or login timeout, a
                               cancelled statement, a statement killed by
                               the server's own time limit)
08xxx, 57P01-57P03             `SourceUnavailable` (cannot connect, link
                               lost, connection closed by the server)
IM002 IM003 IM004 ...          `DriverNotFound` (no such DSN or driver: a
                               configuration error, named clearly)
28xxx                          `SourceUnavailable` (credentials refused)
22xxx                          `UnsupportedQuery` (a value does not fit the
                               legacy column's type)
anything else                  `QueryRejected` (the database refused the
                               statement: not an outage, never a 503)
=============================  ==========================================

While connecting, nothing is a rejected statement: IMxxx and 01000 (what
unixODBC reports when it cannot load a driver's library) become
`DriverNotFound`, anything else but a timeout `SourceUnavailable`.

A profile may add vendor SQLSTATEs to the timeout and lost-connection sets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from legacy_adapters.base import (
    QueryRejected,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    UnsupportedQuery,
)

TIMEOUT_STATES = frozenset({"HYT00", "HYT01", "HY008", "57014", "70100"})
LOST_STATES = frozenset({"57P01", "57P02", "57P03"})


class DriverNotFound(SourceUnavailable):
    """The ODBC driver manager knows no such DSN or driver (see `legacy-wrapper drivers`)."""


def sqlstate(err: BaseException) -> str:
    args: Any = getattr(err, "args", ())
    if args and isinstance(args[0], str) and len(args[0]) == 5:
        return args[0].upper()
    return ""


def message(err: BaseException) -> str:
    args: Any = getattr(err, "args", ())
    text = args[1] if len(args) > 1 and isinstance(args[1], str) else str(err)
    return " ".join(text.split())


def is_lost(state: str, extra: Iterable[str] = ()) -> bool:
    return state.startswith("08") or state in LOST_STATES or state in extra


def translate_connect(err: Exception, *, target: str) -> SourceError:
    """The adapter error for a connection attempt that failed."""
    state = sqlstate(err)
    if state == "01000":
        text = message(err)
        return DriverNotFound(
            f"{target}: the ODBC driver manager cannot load its driver ({text}); "
            "`legacy-wrapper drivers` lists the installed drivers and DSNs"
        )
    error = translate(err, target=target)
    if isinstance(error, SourceUnavailable):
        return error
    text = message(err)
    return SourceUnavailable(f"{target} cannot be connected to ({text})")


def translate(
    err: Exception,
    *,
    target: str,
    timed_out: bool = False,
    timeout_states: Iterable[str] = (),
    lost_states: Iterable[str] = (),
) -> SourceError:
    """The adapter error for a pyodbc error. `timed_out` says the statement was
    cancelled by the source's own deadline (whatever the driver reports then)."""
    state = sqlstate(err)
    text = message(err)
    detail = text if not state or text.startswith(f"[{state}]") else f"[{state}] {text}"
    if timed_out or state in TIMEOUT_STATES or state in timeout_states:
        return SourceTimeout(f"{target} did not answer in time ({detail})")
    if state.startswith("IM"):
        return DriverNotFound(
            f"{target}: the ODBC driver manager cannot load it ({detail}); "
            "`legacy-wrapper drivers` lists the installed drivers and DSNs"
        )
    if is_lost(state, lost_states):
        return SourceUnavailable(f"{target} cannot be reached ({detail})")
    if state.startswith("28"):
        return SourceUnavailable(f"{target} refused the credentials ({detail})")
    if state.startswith("22"):
        # The driver's text may quote the value: the client sees only what is wrong.
        return UnsupportedQuery("a value does not fit the legacy column's type")
    return QueryRejected(f"{target} refused the statement ({detail})")
