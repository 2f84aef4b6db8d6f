"""The Docker image's command line, run directly: the Dockerfile's ENTRYPOINT with
its ENV, as `docker run IMAGE [COMMAND]` would run it (no Docker engine needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from wrapper.auth.sealing import new_state_key
from wrapper.demo import AUTH_SECTION

from .support.demo import build_demo, write_config
from .support.servers import free_port, get, started

ROOT = Path(__file__).parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def image_entrypoint() -> list[str]:
    """The ENTRYPOINT, with the script copied into the image replaced by its source."""
    (entrypoint,) = re.findall(r"^ENTRYPOINT (\[.*\])$", DOCKERFILE, re.M)
    copies = {
        target: source for source, target in re.findall(r"^COPY (\S+) (\S+)$", DOCKERFILE, re.M)
    }
    command = json.loads(entrypoint)
    installed = next(t for t in copies if Path(t).name == command[0])
    return ["sh", str(ROOT / copies[installed]), *command[1:]]


def image_env(**overrides: str) -> dict[str, str]:
    env = dict(re.findall(r"^ENV (\w+)=(\S+)$", DOCKERFILE, re.M))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {**env, **overrides}


def test_the_image_has_an_entrypoint_and_no_fixed_command() -> None:
    assert image_entrypoint()[0] == "sh"
    assert not re.search(r"^CMD ", DOCKERFILE, re.M)
    assert image_env()["LEGACY_WRAPPER_CONFIG"] == "/config/wrapper.yaml"


def test_without_a_mapping_it_says_how_to_mount_one_or_run_the_demo(tmp_path: Path) -> None:
    missing = tmp_path / "wrapper.yaml"
    result = subprocess.run(
        image_entrypoint(),
        env=image_env(LEGACY_WRAPPER_CONFIG=str(missing)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"legacy-wrapper: no mapping at {missing}")
    assert any(f":{missing}:ro" in line and "-v lw-state:/state" in line for line in lines)
    assert any("legacy-wrapper demo --bind 0.0.0.0:8080" in line for line in lines)


def demo_config(folder: Path, port: int) -> Path:
    """The demo database and mapping with the demo's own `auth:` section."""
    section = AUTH_SECTION.format(bind=f"127.0.0.1:{port}")
    return write_config(folder, build_demo(folder, orders=50), section, auth=False)


def test_a_command_runs_as_given(tmp_path: Path) -> None:
    """`docker run IMAGE legacy-wrapper clients add ...` creates a client."""
    config = demo_config(tmp_path, 8080)
    command = ["legacy-wrapper", "clients", "add", "dashboard", "--scopes", "jobs:read",
               "--config", str(config)]  # fmt: skip
    result = subprocess.run(
        [*image_entrypoint(), *command], env=image_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("client_id:     dashboard-")
    listed = subprocess.run(
        [*image_entrypoint(), "legacy-wrapper", "clients", "list", "--config", str(config)],
        env=image_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.stdout.startswith("dashboard ")


@pytest.mark.slow
def test_with_a_mapping_it_serves_it_with_authentication(tmp_path: Path) -> None:
    port = free_port()
    config = demo_config(tmp_path, port)
    env = image_env(
        LEGACY_WRAPPER_CONFIG=str(config),
        LEGACY_WRAPPER_BIND=f"127.0.0.1:{port}",
        LEGACY_WRAPPER_STATE_KEY=new_state_key(),
    )
    with started(image_entrypoint(), f"http://127.0.0.1:{port}/livez", env=env):
        status, body = get(f"http://127.0.0.1:{port}/v1/jobs")
        assert status == 401 and json.loads(body)["status"] == 401
