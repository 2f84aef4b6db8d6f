"""Real servers under worker deaths, reloads, idle and slow clients, and requests
gunicorn refuses itself: the server keeps serving and answers problem+json."""

from __future__ import annotations

import json
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from ..support.demo import build_demo, write_config
from ..support.servers import eventually, get, granian_loaded, serving, workers
from .test_cli import run

SERVERS = ["granian", "gunicorn"]


@pytest.fixture(scope="module")
def served_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serving")
    return write_config(folder, build_demo(folder, orders=100), auth=False)


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def assert_serving(base: str, proc) -> None:  # type: ignore[no-untyped-def]
    """Several requests (spread over the workers) answer, and the master is up."""
    for _ in range(6):
        status, body = get(f"{base}/v1/jobs?limit=1")
        assert status == 200, body
        assert get(f"{base}/metrics")[0] == 200
    assert proc.poll() is None


def all_loaded(master: int, server: str) -> None:
    """Wait until every worker of `master` has loaded the app: a granian worker
    killed before that ignores SIGTERM (granian's, not the wrapper's)."""
    if server == "granian":
        eventually(
            lambda: bool(workers(master)) and all(map(granian_loaded, workers(master))),
            "every worker loaded",
        )


def replaced(master: int, before: set[int], count: int):  # type: ignore[no-untyped-def]
    def check() -> bool:
        now = workers(master)
        return len(now) == count and now != before

    return check


def test_a_serve_that_does_not_start_leaves_no_metrics_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    config = tmp_path / "w.yaml"
    config.write_text("source:\n  url: sqlite://\n  pool_size: zero\nversions: {}\n")
    folders = set(Path(tempfile.gettempdir()).glob("legacy-wrapper-metrics-*"))
    code, _ = run("serve", "--config", str(config), "--no-auth", "--workers", "2")
    assert code == 2
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # the next serve makes its own
    assert set(Path(tempfile.gettempdir()).glob("legacy-wrapper-metrics-*")) == folders


@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS)
def test_a_killed_worker_and_a_reload_leave_the_server_serving(
    served_config: Path, server: str
) -> None:
    with serving(served_config, "--no-auth", "--workers", "2", "--server", server) as (base, proc):
        eventually(lambda: len(workers(proc.pid)) == 2, "two workers")
        all_loaded(proc.pid, server)
        first = workers(proc.pid)
        os.kill(min(first), signal.SIGTERM)
        eventually(replaced(proc.pid, first, 2), "a worker replacing the killed one")
        assert_serving(base, proc)
        before = workers(proc.pid)
        os.kill(proc.pid, signal.SIGHUP)
        eventually(
            lambda: len(workers(proc.pid)) == 2 and not workers(proc.pid) & before,
            "two fresh workers after SIGHUP",
        )
        assert_serving(base, proc)
        assert workers(proc.pid) - before  # the fresh workers stayed up


@pytest.mark.slow
def test_a_worker_timeout_caused_by_an_idle_client_leaves_the_server_serving(
    served_config: Path,
) -> None:
    env = {**os.environ, "GUNICORN_CMD_ARGS": "--timeout 2"}
    args = ("--no-auth", "--workers", "2", "--server", "gunicorn", "--threads", "1")
    with serving(served_config, *args, env=env) as (base, proc):
        eventually(lambda: len(workers(proc.pid)) == 2, "two workers")
        first = workers(proc.pid)
        with socket.create_connection(("127.0.0.1", port_of(base))):  # and sends nothing
            eventually(replaced(proc.pid, first, 2), "the held worker timed out and was replaced")
        assert_serving(base, proc)


@pytest.mark.slow
def test_gunicorn_opens_no_control_socket(served_config: Path, tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)}
    with serving(served_config, "--no-auth", "--workers", "1", "--server", "gunicorn", env=env):
        sockets = [p for p in tmp_path.rglob("*") if p.is_socket()]
        assert sockets == []  # gunicorn 27 would open $XDG_RUNTIME_DIR/gunicorn.ctl


def raw_answer(port: int, request: bytes) -> tuple[int, str, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers.get("Content-Type", ""), json.loads(body)


@pytest.mark.slow
@pytest.mark.parametrize("threads", ["1", "8"])  # gunicorn's sync and gthread workers
def test_gunicorn_refusals_are_problem_json(served_config: Path, threads: str) -> None:
    args = ("--no-auth", "--workers", "1", "--server", "gunicorn", "--threads", threads)
    with serving(served_config, *args) as (base, _):
        port = port_of(base)
        refusals = {
            400: b"NONSENSE\r\n\r\n",
            414: b"GET /v1/jobs?" + b"a" * 8000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            431: b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
        }
        for expected, request in refusals.items():
            status, content_type, body = raw_answer(port, request)
            assert (status, content_type) == (expected, "application/problem+json")
            assert body["status"] == expected and body["title"] and body["detail"]


@contextmanager
def trickling(port: int, clients: int) -> Iterator[None]:
    """`clients` connections that send a request's header lines one every half second
    and never finish it."""
    stop = threading.Event()
    connected = threading.Barrier(clients + 1)

    def trickle() -> None:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\n")
            connected.wait()
            while not stop.wait(0.5):
                try:
                    conn.sendall(b"X-Slow: y\r\n")
                except OSError:
                    return

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    connected.wait(timeout=10)
    time.sleep(1)  # every slow client has been accepted by some worker
    try:
        yield
    finally:
        stop.set()


@pytest.mark.slow
def test_slow_clients_do_not_hold_the_default_server(served_config: Path) -> None:
    with serving(served_config, "--no-auth", "--workers", "2") as (base, proc):
        with trickling(port_of(base), clients=16):
            for path in ("/livez", "/v1/jobs?limit=1", "/v1/docs", "/readyz", "/v1/jobs?limit=2"):
                status, _ = get(f"{base}{path}")  # fails after 5 s without an answer
                assert status == 200, path
        assert proc.poll() is None


def cpus_of(worker: int) -> set[frozenset[int]]:
    """The CPU sets of every thread of `worker`."""
    return {
        frozenset(os.sched_getaffinity(int(thread)))
        for thread in os.listdir(f"/proc/{worker}/task")
    }


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")
@pytest.mark.parametrize("server", SERVERS)
def test_pinned_workers_run_each_on_its_own_cpu_and_a_replacement_takes_the_freed_one(
    served_config: Path, server: str
) -> None:
    allowed = sorted(os.sched_getaffinity(0))
    args = ("--no-auth", "--workers", "2", "--server", server, "--pin-workers")
    with serving(served_config, *args) as (base, proc):
        eventually(lambda: len(workers(proc.pid)) == 2, "two workers")

        def pinned() -> dict[int, int] | None:
            """Each worker's CPU, once every thread of both workers runs on one."""
            found = {}
            for worker in workers(proc.pid):
                sets = cpus_of(worker)
                if len(sets) != 1 or len(next(iter(sets))) != 1:
                    return None  # still starting: not pinned yet
                found[worker] = next(iter(next(iter(sets))))
            return found if len(found) == 2 else None

        eventually(pinned, "both workers pinned")
        all_loaded(proc.pid, server)
        first = pinned()
        assert first is not None
        assert set(first.values()) == (set(allowed[:2]) if len(allowed) > 1 else set(allowed))
        # The worker on the second slot: a replacement that took a new slot (the
        # third) would run on the first CPU, beside the other worker.
        killed = max(first, key=first.__getitem__)
        os.kill(killed, signal.SIGTERM)
        eventually(replaced(proc.pid, set(first), 2), "a worker replacing the killed one")
        eventually(
            lambda: (now := pinned()) is not None and killed not in now,
            "the replacement pinned",
        )
        again = pinned()
        assert again is not None
        assert sorted(again.values()) == sorted(first.values())  # it took the freed CPU
        assert_serving(base, proc)


def test_pinning_workers_is_refused_for_the_development_server(served_config: Path) -> None:
    code, output = run("serve", "--config", str(served_config), "--no-auth", "--dev",
                       "--pin-workers")  # fmt: skip
    assert code == 2
    assert "--pin-workers" in output


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")
def test_a_granian_worker_ended_while_it_loads_the_app_is_replaced(served_config: Path) -> None:
    # --pin-workers marks the moment a worker starts importing the app (it pins
    # itself first); until its I/O thread exists it has not finished loading.
    args = ("--no-auth", "--workers", "2", "--server", "granian", "--pin-workers")
    with serving(served_config, *args) as (base, proc):
        all_loaded(proc.pid, "granian")
        os.kill(proc.pid, signal.SIGHUP)  # fresh workers, caught while they load
        loading: list[int] = []

        def one_loading() -> bool:
            for worker in workers(proc.pid):
                with suppress(OSError):
                    if len(os.sched_getaffinity(worker)) == 1 and not granian_loaded(worker):
                        loading.append(worker)
                        return True
            return False

        eventually(one_loading, "a fresh worker loading the app", every=0.005)
        os.kill(loading[0], signal.SIGTERM)
        eventually(lambda: loading[0] not in workers(proc.pid), "the worker ended")
        eventually(lambda: len(workers(proc.pid)) == 2, "a replacement")
        all_loaded(proc.pid, "granian")
        assert_serving(base, proc)
