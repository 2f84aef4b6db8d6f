"""Outages of a real legacy database, played on purpose.

`FaultProxy` is a loopback TCP proxy that can forward, refuse or hang, put in front
of a real database server: `refuse` closes the listening socket and every open
connection (the server is down), `hang` accepts connections and swallows what is
sent on any connection without answering (the server is stuck), `forward`
(again) relays to the real server. Leaving `hang` closes the swallowed
connections, as a restarted server would.

    with FaultProxy("127.0.0.1", 5432) as proxy:   # proxy.port relays to 5432
        proxy.set("hang"); ...; proxy.set("forward")

`Outage` gives one URL of the demo database whose availability a test controls:
through a `FaultProxy` for PostgreSQL and MariaDB, by moving the file away for a
copy of a SQLite database (which cannot hang: `hang` is `refuse` there).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import make_url

from legacy_adapters.sql.source import FILE_CHECK_SECONDS

Mode = Literal["forward", "refuse", "hang"]


class FaultProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.mode: Mode = "forward"
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._closed = False
        self.port = self._listen(0)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def set(self, mode: Mode) -> None:
        with self._lock:
            previous, self.mode = self.mode, mode
        if mode == "refuse":
            self._stop_listening()
            self._drop_connections()
        elif previous == "hang":
            self._drop_connections()
        if mode != "refuse" and self._listener is None:
            self._listen(self.port)

    def close(self) -> None:
        self._closed = True
        self._stop_listening()
        self._drop_connections()

    # ------------------------------------------------------------------ internals

    def _listen(self, port: int) -> int:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return listener.getsockname()[1]

    def _stop_listening(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            listener.close()

    def _drop_connections(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def _accept(self, listener: socket.socket) -> None:
        while not self._closed:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            self._track(client)
            if self.mode == "hang":
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            self._track(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _swallow(self, conn: socket.socket) -> None:
        with suppress(OSError):
            while conn.recv(65536):
                pass

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if self.mode != "hang":  # else swallowed: the other side waits for ever
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                with suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                with self._lock:
                    self._connections.discard(conn)
            source.close()  # the other pump closes its own source


class Outage:
    def __init__(self, url: str, proxy: FaultProxy | None, file: Path | None) -> None:
        self.url = url
        self.proxy = proxy
        self.file = file
        self.can_hang = proxy is not None

    def set(self, mode: Mode) -> None:
        if self.proxy is not None:
            self.proxy.set(mode)
        elif self.file is not None:
            away = self.file.with_name(self.file.name + ".away")
            if mode == "forward" and away.exists():
                away.rename(self.file)
            elif mode != "forward" and self.file.exists():
                self.file.rename(away)
                time.sleep(FILE_CHECK_SECONDS)  # reads look at the file this often


@contextmanager
def outage(url: str, folder: Path) -> Iterator[Outage]:
    """An `Outage` over the database at `url` (a SQLite file is copied into `folder`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        copy = folder / "legacy.sqlite"
        shutil.copyfile(parsed.database or "", copy)
        yield Outage(f"sqlite:///{copy}", None, copy)
        return
    with FaultProxy(parsed.host or "127.0.0.1", parsed.port or 0) as proxy:
        via = parsed.set(host="127.0.0.1", port=proxy.port)
        yield Outage(via.render_as_string(hide_password=False), proxy, None)
