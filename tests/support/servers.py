"""Real servers for tests: a command (`legacy-wrapper serve`, `demo`, the Docker
entrypoint) as a child process on a free loopback port, in its own process
group, waited for until it answers and always stopped afterwards (the whole
group, workers included)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def eventually(
    check: Callable[[], object],
    what: str = "the condition",
    within: float = 40,
    every: float = 0.02,
) -> None:
    """Wait until `check()` holds, asking every `every` seconds; fail naming `what`
    when it does not in time."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"{what}: not after {within} s"
        time.sleep(every)


@contextmanager
def started(
    command: Sequence[str],
    ready: str,
    *,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    within: float = 30,
) -> Iterator[subprocess.Popen]:
    """Runs `command` until `ready` (a URL) answers 200; its output goes to `log`
    (else to pipes); afterwards the whole process group is stopped."""
    out = log.open("w") if log is not None else None
    proc = subprocess.Popen(
        list(command),
        stdout=out or subprocess.PIPE,
        stderr=out or subprocess.PIPE,
        start_new_session=True,
        env=dict(env) if env is not None else None,
    )
    if out is not None:
        out.close()  # the child has its own copy
    try:

        def answers() -> bool:
            assert proc.poll() is None, _output(proc, log)
            try:
                return get(ready)[0] == 200
            except OSError:
                return False

        eventually(answers, f"{command[:4]} answering at {ready}", within, every=0.2)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _output(proc: subprocess.Popen, log: Path | None) -> str:
    if log is not None:
        return log.read_text()
    return proc.stderr.read().decode() if proc.stderr else "exited"


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
    with started(command, f"{base}/livez", env=env) as proc:
        yield base, proc


def workers(master: int) -> set[int]:
    """The pids of `master`'s live child processes (a server's workers; a killed
    worker the master has not reaped yet is a zombie, not a worker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, parent = stat.rsplit(")", 1)[1].split()[:2]
            if int(parent) == master and state != "Z":
                found.add(int(entry.name))
    return found


def granian_loaded(worker: int) -> bool:
    """Whether a granian worker has loaded the app and serves: its I/O runtime's
    thread exists. Until then the worker still runs its master's SIGTERM handler
    (inherited at the fork), so a SIGTERM does not end it."""
    try:
        names = {
            (task / "comm").read_text().strip() for task in Path(f"/proc/{worker}/task").iterdir()
        }
    except OSError:
        return False
    return "tokio-rt-worker" in names
