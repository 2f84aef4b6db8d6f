"""POSTs to webhook targets over connections pinned to the addresses the guard checked.

The standard library's `http.client` does the HTTP/1.1 (it never follows a
redirect); only the way a connection is opened changes: the host is resolved
once, every address is checked (`ssrf.resolve`) and the socket is connected
to a checked address. The connection keeps the URL's host name, so the
`Host` header, the TLS server name (SNI) and the certificate check all use the
name. Each sending thread keeps its own idle connections for reuse.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from wrapper.events.ssrf import Resolver, TargetPolicy, parse_target, resolve

IDLE_SECONDS = 30.0


class _Pinned(http.client.HTTPConnection):
    policy: TargetPolicy
    resolver: Resolver

    def connect(self) -> None:
        addresses = resolve(self.host, self.port, self.policy, self.resolver)
        error: OSError | None = None
        for address in addresses:
            try:
                self.sock = socket.create_connection((address, self.port), self.timeout)
            except OSError as err:
                error = err
                continue
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return
        assert error is not None
        raise error


class _PinnedTLS(http.client.HTTPSConnection, _Pinned):
    """`HTTPSConnection.connect` opens the socket through `_Pinned.connect`, then
    wraps it with the host name as server name."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most the configured number of bytes


def _stale(conn: http.client.HTTPConnection) -> bool:
    """A kept connection the server has closed (readable while idle means EOF)."""
    if conn.sock is None:
        return True
    readable, _, _ = select.select([conn.sock], [], [], 0)
    return bool(readable)


class Sender:
    """Sends POSTs; thread-safe, with one pool of idle connections per thread."""

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        timeout: float,
        max_body: int,
        ssl_context: ssl.SSLContext | None = None,
        resolver: Resolver = socket.getaddrinfo,
    ) -> None:
        self.policy = policy
        self.timeout = timeout
        self.max_body = max_body
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.resolver = resolver
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POSTs ``body``; raises `TargetRefused`, `OSError` (timeouts included) or
        `http.client.HTTPException` when no answer comes."""
        target = parse_target(url)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self._connection(target.scheme, target.host, target.port)
        try:
            conn.request("POST", path, body=body, headers=dict(headers))
            response = conn.getresponse()
            answer = Answer(response.status, response.read(self.max_body))
            if response.will_close or not response.isclosed():
                conn.close()
        except BaseException:
            conn.close()
            raise
        if conn.sock is not None:
            self._idle()[(target.scheme, target.host, target.port)] = (conn, time.monotonic())
        return answer

    def _idle(self) -> dict:
        idle = getattr(self._local, "idle", None)
        if idle is None:
            idle = self._local.idle = {}
        return idle

    def _connection(self, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        kept = self._idle().pop((scheme, host, port), None)
        if kept is not None:
            conn, since = kept
            if time.monotonic() - since < IDLE_SECONDS and not _stale(conn):
                return conn
            conn.close()
        if scheme == "https":
            conn = _PinnedTLS(host, port, timeout=self.timeout, context=self.ssl_context)
        else:
            conn = _Pinned(host, port, timeout=self.timeout)
        conn.policy, conn.resolver = self.policy, self.resolver
        with self._lock:
            self._all = [c for c in self._all if c.sock is not None] + [conn]
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all = []
