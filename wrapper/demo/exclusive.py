"""One demo per port and per work folder, checked before anything is touched.

A second `legacy-wrapper demo` must not reset the personas, the config or the
database of one that is running (its printed secrets would stop working), so
it checks the port and takes the work folder's lock first, and stops with one
line when either is taken.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from pathlib import Path
from typing import IO


class DemoBusy(Exception):
    """The port or the work folder belongs to a running demo (or another program)."""


def check_port(host: str, port: int) -> None:
    """Raise `DemoBusy` when nothing could listen on host:port right now."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise DemoBusy(f"cannot listen on {host}:{port}: {err.strerror}") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            # As the servers do: a port left in TIME_WAIT by a stopped demo is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as err:
                if err.errno == errno.EADDRINUSE:
                    raise DemoBusy(
                        f"{host}:{port} is already in use (a demo running there keeps its "
                        "clients): stop it first, or give this one another --bind "
                        "HOST:PORT and its own --workdir"
                    ) from None
                raise DemoBusy(f"cannot listen on {host}:{port}: {err.strerror}") from None


def claim_workdir(workdir: Path) -> IO[str]:
    """Lock `workdir` for this process's lifetime (keep the returned file open);
    raise `DemoBusy` when a running demo holds it."""
    workdir.mkdir(parents=True, exist_ok=True)
    lock = (workdir / ".lock").open("a+", encoding="utf-8")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "?"
        lock.close()
        raise DemoBusy(
            f"{workdir} belongs to a running demo (pid {holder}), which keeps running "
            "untouched: stop it first, or give this one its own --workdir"
        ) from None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock
