"""Client-side time bounds per driver.

A statement timeout is enforced by the database server; a server that accepts
connections and then never answers (a hung process, a stuck proxy, a half-open
network path) is not covered by it. Every wait on a network database is
therefore bounded on the client too:

- connecting: `connect_timeout` (psycopg, PyMySQL), at most `MAX_CONNECT` seconds;
- waiting for an answer on an open connection: the statement timeout plus
  `ANSWER_MARGIN` (the server's own timeout normally answers first and leaves the
  connection usable); psycopg waits through `Connection.wait(timeout=...)`, PyMySQL
  through `read_timeout`/`write_timeout`;
- a peer that vanished: TCP keepalives (psycopg/libpq).

A connection whose answer did not come in time is closed, so the pool never hands
it out again. SQLite needs none of this (a file does not hang); its statements
are bounded by a progress handler in the source.
"""

from __future__ import annotations

import inspect
import logging
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine

log = logging.getLogger(__name__)

ANSWER_MARGIN = 2.0
MAX_CONNECT = 10.0
NO_ANSWER = "the legacy database did not answer within"  # start of the client timeout's message


@dataclass(frozen=True)
class Bounds:
    """Seconds to establish a connection, and to wait for any answer once connected."""

    connect: float
    answer: float | None

    @classmethod
    def for_statement_timeout(cls, statement_timeout: float | None) -> Bounds:
        answer = statement_timeout + ANSWER_MARGIN if statement_timeout else None
        return cls(connect=min(answer or MAX_CONNECT, MAX_CONNECT), answer=answer)


def connect_args(url: URL, bounds: Bounds) -> dict[str, Any]:
    """The driver's own connection arguments for `bounds`; what the URL's query
    sets itself (e.g. `?connect_timeout=30`) is left to the URL."""
    return {
        key: value
        for key, value in _driver_args(url.get_driver_name(), bounds).items()
        if key not in url.query
    }


def _driver_args(driver: str, bounds: Bounds) -> dict[str, Any]:
    if driver == "psycopg":
        args: dict[str, Any] = {
            "connect_timeout": max(2, math.ceil(bounds.connect)),  # libpq: whole seconds, >= 2
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 5,
            "keepalives_count": 3,
        }
        if bounds.answer:
            # Data sent and never acknowledged (the peer is gone): give up as the answer would.
            args["tcp_user_timeout"] = int(bounds.answer * 1000)
        return args
    if driver == "pymysql":
        return {
            "connect_timeout": bounds.connect,
            "read_timeout": bounds.answer,
            "write_timeout": bounds.answer,
        }
    return {}


def install(engine: Engine, driver: str, bounds: Bounds) -> None:
    """Driver hooks `connect_args` cannot express (psycopg's answer timeout)."""
    if driver != "psycopg" or not bounds.answer:
        return
    connection_class = _bounded_psycopg_connection(bounds.answer)
    if connection_class is None:
        return

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        return connection_class.connect(*cargs, **cparams)


def _bounded_psycopg_connection(answer: float) -> Any:
    import psycopg

    if "timeout" not in inspect.signature(psycopg.Connection.wait).parameters:
        log.warning("psycopg %s cannot bound its waits: upgrade to 3.3", psycopg.__version__)
        return None
    wait_timeout = psycopg.errors._WaitTimeout  # raised by Connection.wait on its timeout

    class BoundedConnection(psycopg.Connection):  # type: ignore[type-arg]
        """Every wait for the server (query, fetch, commit, rollback) ends after
        `answer` seconds; the connection is then closed: its state is unknown."""

        def wait(self, gen: Any, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
            try:
                return super().wait(gen, *args, timeout=timeout or answer, **kwargs)
            except wait_timeout:
                self.pgconn.finish()
                raise psycopg.OperationalError(f"{NO_ANSWER} {answer:g} s") from None

    return BoundedConnection
