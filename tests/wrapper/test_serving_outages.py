"""Real servers through legacy database outages (a proxy that refuses or hangs in
front of PostgreSQL and MariaDB, a SQLite file moved away): legacy reads answer
503 with Retry-After, /readyz 503 within its bound, /livez and the documents
keep answering, a reload or a worker death does not end the server, and it
serves again by itself once the database is back."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest

from ..support.outages import outage
from ..support.servers import eventually, serving, workers
from .test_schema_cache import write_config

SERVERS = ["granian", "gunicorn"]


def fetch(url: str, timeout: float = 10) -> tuple[int, Message]:
    """Status and headers; fails when no answer comes within `timeout` seconds."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as err:
        return err.code, err.headers


def status(url: str) -> int:
    return fetch(url)[0]


def assert_unavailable(base: str, within: float = 10) -> None:
    """Legacy reads and /readyz 503, /livez and the documents 200, each within
    `within` seconds (/readyz within its own 2 s more)."""
    code, headers = fetch(f"{base}/v1/jobs?limit=1", within)
    assert code == 503 and int(headers["Retry-After"]) > 0
    assert headers["Content-Type"] == "application/problem+json"
    assert fetch(f"{base}/readyz", within + 2)[0] == 503
    for path in ("/livez", "/v1/docs", "/v1/openapi.json"):
        assert fetch(f"{base}{path}", within)[0] == 200, path


@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS)
def test_a_hung_database_answers_503_and_the_rest_keeps_answering(
    demo_url: str, tmp_path: Path, server: str
) -> None:
    with outage(demo_url, tmp_path) as db:
        if not db.can_hang:
            pytest.skip("a SQLite file cannot hang")
        config = write_config(tmp_path, db.url)  # statement_timeout: 1
        # serve's default threads (granian 2, gunicorn 8), so its default bulkheads
        with serving(config, "--no-auth", "--workers", "2", "--server", server) as (base, _):
            assert status(f"{base}/v1/jobs?limit=1") == 200
            db.set("hang")
            waiting: list[tuple[int, Message]] = []
            readers = [
                threading.Thread(target=lambda: waiting.append(fetch(f"{base}/v1/jobs?limit=5")))
                for _ in range(8)
            ]
            for reader in readers:
                reader.start()
            # While those eight wait for the database (each for up to 3 s, the
            # statement timeout and the client's margin), a thread of each worker is
            # free within `busy_after` (1 s): reads beyond the bulkhead are refused
            # then, not after the queue timeout (5 s). 4 s: a margin for a busy machine.
            assert_unavailable(base, within=4)
            for reader in readers:
                reader.join()
            assert [code for code, _ in waiting] == [503] * 8
            assert all(int(headers["Retry-After"]) > 0 for _, headers in waiting)
            db.set("forward")
            eventually(lambda: status(f"{base}/v1/jobs?limit=1") == 200, "serving again")
            assert status(f"{base}/readyz") == 200


@pytest.mark.slow
def test_a_granian_worker_by_default_sends_one_query_at_a_time_and_keeps_a_thread_free(
    demo_url: str, tmp_path: Path
) -> None:
    with outage(demo_url, tmp_path) as db:
        if not db.can_hang:
            pytest.skip("a SQLite file cannot hang")
        config = write_config(tmp_path, db.url)  # statement_timeout: 1, pool_size: 4
        with serving(config, "--no-auth", "--workers", "1") as (base, _):
            assert status(f"{base}/v1/jobs?limit=1") == 200
            db.set("hang")
            answers: list[tuple[int, float]] = []

            def read() -> None:
                started = time.monotonic()
                code = fetch(f"{base}/v1/jobs?limit=5")[0]
                answers.append((code, time.monotonic() - started))

            readers = [threading.Thread(target=read) for _ in range(3)]
            for reader in readers:
                reader.start()
            for reader in readers:
                reader.join()
            # Two threads, one of them kept from the database: the first read waits
            # out the statement timeout and the client's margin (3 s); the others
            # are refused once it has run for `busy_after` (1 s), not queued behind it.
            assert [code for code, _ in answers] == [503] * 3
            waited = sorted(seconds for _, seconds in answers)
            assert waited[1] < 2.5 <= waited[2], waited


@pytest.mark.slow
@pytest.mark.parametrize("server", SERVERS)
def test_reloads_worker_deaths_and_starts_during_an_outage_keep_serving(
    demo_url: str, tmp_path: Path, server: str
) -> None:
    with outage(demo_url, tmp_path) as db:
        config = write_config(tmp_path, db.url)
        args = ("--no-auth", "--workers", "2", "--server", server)
        with serving(config, *args) as (base, proc):
            assert status(f"{base}/v1/jobs?limit=1") == 200
            db.set("refuse")
            assert_unavailable(base)
            before = workers(proc.pid)
            os.kill(proc.pid, signal.SIGHUP)
            eventually(
                lambda: len(workers(proc.pid)) == 2 and not workers(proc.pid) & before,
                "two fresh workers after SIGHUP",
            )
            assert_unavailable(base)
            before = workers(proc.pid)
            os.kill(min(before), signal.SIGTERM)
            eventually(
                lambda: len(workers(proc.pid)) == 2 and workers(proc.pid) != before,
                "a worker replacing the killed one",
            )
            assert_unavailable(base)
            assert proc.poll() is None
            db.set("forward")
            eventually(lambda: status(f"{base}/v1/jobs?limit=1") == 200, "serving again")
            assert status(f"{base}/readyz") == 200
        db.set("refuse")  # a whole start during the outage, from the saved schema
        with serving(config, *args) as (base, proc):
            assert_unavailable(base)
            db.set("forward")
            eventually(lambda: status(f"{base}/v1/jobs?limit=2") == 200, "serving after start")
