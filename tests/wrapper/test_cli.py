"""The command line: inspect, init, serve (gunicorn and granian for real), config errors."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from wrapper.cli import main

from ..support.demo import build_demo, write_config
from ..support.servers import get, serving


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_inspect_prints_the_reflected_schema(demo_url: str) -> None:
    code, out = run("inspect", "--source", demo_url)
    assert code == 0, out
    assert "table ORDLINE" in out and "view V_OPENORD" in out
    assert "pk 2" in out  # second column of the composite key
    assert "index IX_JOB_WC: WRK_CTR, STAT, DUE_DT" in out
    code, out = run("inspect", "--source", demo_url, "--json")
    tables = {t["name"]: t for t in json.loads(out[: out.rindex("}") + 1])["tables"]}
    assert tables["TRIKEY"]["primary_key"] == ["PLANT", "LINE", "SEQ"]
    assert tables["NOKEY_DUPS"]["primary_key"] == []


def test_init_writes_a_mapping_that_renames_control_names(demo_url: str, tmp_path: Path) -> None:
    out_file = tmp_path / "wrapper.yaml"
    code, out = run("init", "--source", demo_url, "-o", str(out_file))
    assert code == 0, out
    text = out_file.read_text()
    assert "limit_:" in text and "sort_:" in text and "cursor_:" in text
    assert "work_centre_notes:" in text and "table: Work Centre Notes" in text
    assert "list only until `key` is declared" in text
    assert "scopes: ordline:read" in text  # default deny: each resource gets a read scope


def test_inspect_of_an_unreachable_source_fails_cleanly() -> None:
    code, out = run("inspect", "--source", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert code == 2
    assert "cannot read the legacy source" in out
    assert "Traceback" not in out


def test_serve_refuses_without_auth_and_off_loopback(tmp_path: Path) -> None:
    config = tmp_path / "w.yaml"
    config.write_text("source: {url: 'sqlite://'}\nversions: {}\n")
    code, out = run("serve", "--config", str(config))
    assert code == 2 and "--no-auth" in out
    code, out = run("serve", "--config", str(config), "--no-auth", "--bind", "0.0.0.0:8080")
    assert code == 2 and "refused on 0.0.0.0" in out


def test_serve_prints_every_config_problem_and_exits(tmp_path: Path) -> None:
    config = tmp_path / "w.yaml"
    config.write_text(
        "source:\n  url: sqlite://\n  pool_size: zero\nversions:\n  v1: {resources: {}}\n"
    )
    code, out = run("serve", "--config", str(config), "--no-auth")
    assert code == 2
    assert "w.yaml:3: source.pool_size: must be of type int" in out
    assert "w.yaml:5: versions.v1.resources" in out


@pytest.fixture(scope="module")
def served_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("served")
    return write_config(folder, build_demo(folder, orders=200), auth=False)


@pytest.mark.slow
@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_serve_for_real(served_config: Path, server: str) -> None:
    with serving(served_config, "--no-auth", "--workers", "2", "--server", server) as (base, proc):
        status, body = get(f"{base}/v1/jobs?status=running&sort=due_date&limit=5")
        assert status == 200
        rows = json.loads(body)["data"]
        assert rows and all(r["status"] == "running" for r in rows)
        status, body = get(f"{base}/v1/jobs?stauts=running")
        assert status == 400 and json.loads(body)["parameter"] == "stauts"
        # Reload: SIGHUP starts fresh workers, which read the mapping and reflect again.
        text = served_config.read_text()
        served_config.write_text(
            text.replace("      job_id: {column: JOB_NO", "      job_number: {column: JOB_NO", 1)
        )
        try:
            os.kill(proc.pid, signal.SIGHUP)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                status, body = get(f"{base}/v1/jobs?limit=1")
                if status == 200 and "job_number" in json.loads(body)["data"][0]:
                    break
                time.sleep(0.3)
            else:
                raise AssertionError("SIGHUP did not reload the mapping")
        finally:
            served_config.write_text(text)
