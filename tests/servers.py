"""Real servers for tests: `legacy-wrapper serve` as a child process on a free
loopback port, always stopped afterwards (the whole process group)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@contextmanager
def serving(
    config: Path, *args: str, port: int | None = None, env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Runs `serve --config CONFIG ARGS --bind 127.0.0.1:PORT` until /livez answers;
    yields (base URL, process)."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "wrapper", "serve", "--config", str(config), *args,
               "--bind", f"127.0.0.1:{port}"]  # fmt: skip
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=dict(env) if env is not None else None,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
            try:
                if get(f"{base}/livez")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def workers(master: int) -> set[int]:
    """The pids of `master`'s child processes (a server's workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                found.add(int(entry.name))
    return found


def eventually(check: Callable[[], bool], what: str, within: float = 40) -> None:
    """Wait until `check()` holds; fail naming `what` when it does not in time."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"{what}: not after {within} s"
        time.sleep(0.2)
