"""The demo: rate limits, a short cache and a persona that reaches every resource;
a second demo on the same port or folder is refused and leaves the first alone."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from wrapper.app import create_app
from wrapper.auth.commands import declared_scopes
from wrapper.cli import main
from wrapper.config import load_config
from wrapper.demo import Protection, prepare_demo, reset_personas

from ..support.servers import free_port, started
from ..support.tokens import client_token


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, dict]]:
    """The demo as `legacy-wrapper demo` writes it without Redis, served in-process."""
    folder = tmp_path_factory.mktemp("demo")
    config_path = prepare_demo(folder, orders=100, protection=Protection("memory://"))
    personas = {name: (cid, secret, scopes) for name, cid, secret, scopes, _ in
                reset_personas(config_path)}  # fmt: skip
    app = create_app(load_config(config_path))
    yield app, personas
    app.extensions["legacy_wrapper"].close()


def test_the_auditor_holds_every_scope_and_reads_every_resource(demo: tuple[Flask, dict]) -> None:
    app, personas = demo
    client_id, secret, scopes = personas["plant auditor"]
    config = app.extensions["legacy_wrapper"].config
    assert set(scopes.split()) == declared_scopes(config)
    auth = client_token(app.test_client(), client_id, secret)
    client = app.test_client()
    for version in config.versions:
        for resource in version.resources:
            response = client.get(f"/{version.name}/{resource.name}?limit=2", headers=auth)
            assert response.status_code == 200, (version.name, resource.name)
            assert response.get_json()["data"], (version.name, resource.name)
    order = client.get("/v1/orders?limit=1&expand=lines,customer", headers=auth).get_json()
    row = order["data"][0]
    assert "total" in row and "unit_price" in row["lines"][0]  # priced fields too
    assert "credit_limit" in row["customer"]


def test_the_other_personas_keep_their_limits(demo: tuple[Flask, dict]) -> None:
    app, personas = demo
    client = app.test_client()
    dashboard = client_token(client, *personas["dashboard"][:2])
    assert client.get("/v1/orders", headers=dashboard).status_code == 403
    supervisor = client_token(client, *personas["floor supervisor WC03"][:2])
    jobs = client.get("/v1/jobs?limit=50", headers=supervisor).get_json()["data"]
    assert {j["work_center"] for j in jobs} == {"WC03"}


def test_rate_limit_fields_and_the_cache_are_visible(demo: tuple[Flask, dict]) -> None:
    app, personas = demo
    client = app.test_client()
    auth = client_token(client, *personas["dashboard"][:2])
    queries: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        queries.append(statement)

    engine = app.extensions["legacy_wrapper"].source.inner.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        first = client.get("/v1/jobs?limit=3&sort=due_date", headers=auth)
        after_first = len(queries)
        second = client.get("/v1/jobs?limit=3&sort=due_date", headers=auth)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert after_first >= 1 and len(queries) == after_first  # the second: from the cache
    assert first.status_code == second.status_code == 200
    assert first.headers["RateLimit-Policy"] == '"client";q=120;w=60, "global";q=1200;w=60'
    remaining = [int(re.search(r"r=(\d+)", r.headers["RateLimit"])[1]) for r in (first, second)]
    assert remaining[1] == remaining[0] - 1
    assert "max-age=5" in first.headers["Cache-Control"]
    assert second.get_data() == first.get_data()
    codes = client.get(
        "/v1/codes?limit=1", headers=client_token(client, *personas["plant auditor"][:2])
    )
    assert "max-age=60" in codes.headers["Cache-Control"]


def test_without_redis_the_demo_refuses_several_workers_before_touching_anything(
    tmp_path: Path,
) -> None:
    workdir = tmp_path / "demo"
    result = CliRunner().invoke(
        main,
        ["demo", "--redis", "", "--workers", "2", "--bind", f"127.0.0.1:{free_port()}",
         "--workdir", str(workdir)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "use --workers 1" in result.output and "Traceback" not in result.output
    assert not workdir.exists()


# ------------------------------------------------------------------ a real demo, twice


def demo_command(port: int, workdir: Path) -> list[str]:
    return [sys.executable, "-m", "wrapper", "demo", "--bind", f"127.0.0.1:{port}",
            "--workdir", str(workdir), "--orders", "100", "--redis", ""]  # fmt: skip


@contextmanager
def running_demo(port: int, workdir: Path, log: Path) -> Iterator[str]:
    """`legacy-wrapper demo` until /livez answers; yields what it printed so far."""
    ready = f"http://127.0.0.1:{port}/livez"
    with started(demo_command(port, workdir), ready, log=log, within=60):
        yield log.read_text()


def exported(printed: str) -> dict[str, tuple[str, str]]:
    """persona name -> (CLIENT_ID, CLIENT_SECRET) from the demo's `export` lines."""
    found = {}
    for name, line in re.findall(r"^  (\S[^:\n]*): .*\n.*\n    (export .*)$", printed, re.M):
        values = dict(word.split("=", 1) for word in shlex.split(line)[1:])
        found[name] = (values["CLIENT_ID"], values["CLIENT_SECRET"])
    return found


def token_works(port: int, client_id: str, secret: str) -> bool:
    """The secret gets a token, and the API accepts the token (200, or 403 for a
    resource the persona may not read; never 401)."""
    base = f"http://127.0.0.1:{port}"
    request = urllib.request.Request(
        f"{base}/oauth/token",
        data=b"grant_type=client_credentials",
        headers=basic(client_id, secret),
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            token = json.loads(response.read())["access_token"]
    except urllib.error.HTTPError:
        return False
    request = urllib.request.Request(
        f"{base}/v1/codes?limit=1", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status == 200
    except urllib.error.HTTPError as err:
        return err.code == 403


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_a_second_demo_is_refused_and_the_first_keeps_working(tmp_path: Path) -> None:
    port, workdir = free_port(), tmp_path / "demo"
    with running_demo(port, workdir, tmp_path / "first.log") as printed:
        personas = exported(printed)
        assert set(personas) == {
            "dashboard", "floor supervisor WC03", "customer portal C0001005", "plant auditor"
        }  # fmt: skip
        assert token_works(port, *personas["plant auditor"])
        before = {p: digest(workdir / p) for p in ("wrapper.yaml", "auth.db", "plant.db")}

        # Same port, another folder: refused on the port, nothing created.
        other = tmp_path / "other"
        second = subprocess.run(
            demo_command(port, other), capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        lines = (second.stdout + second.stderr).strip().splitlines()
        assert lines == [lines[0]] and f"127.0.0.1:{port} is already in use" in lines[0]
        assert not other.exists()

        # Another port, the same folder: refused on the folder, nothing reset.
        third = subprocess.run(
            demo_command(free_port(), workdir), capture_output=True, text=True, timeout=60
        )
        assert third.returncode == 2
        lines = (third.stdout + third.stderr).strip().splitlines()
        assert lines == [lines[0]] and f"{workdir} belongs to a running demo" in lines[0]

        assert {p: digest(workdir / p) for p in before} == before
        for client_id, secret in personas.values():
            assert token_works(port, client_id, secret)
