"""`legacy-wrapper clients|keys|signing-keys` against a state database; `serve` needs auth."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from wrapper.cli import main
from wrapper.demo import ensure_state_key

CONFIG = """source: {url: 'sqlite://'}
versions:
  v1:
    resources:
      jobs: {table: J, scopes: jobs:read, fields: {a: A}}
auth:
  audience: api
  state: state.db
  server: {issuer: 'http://127.0.0.1:8080', token_lifetime: 60, state_key_file: state.key}
"""


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def config(tmp_path: Path) -> str:
    path = tmp_path / "w.yaml"
    path.write_text(CONFIG)
    ensure_state_key(tmp_path)
    return str(path)


def test_clients(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    code, out = run(
        "clients",
        "add",
        "portal",
        "--scopes",
        "jobs:read",
        "--claim",
        "customer_no=C1",
        "--config",
        cfg,
    )
    assert code == 0 and "client_secret:" in out
    secret = out.split("client_secret:")[1].split()[0]
    code, out = run("clients", "list", "--config", cfg)
    assert "portal" in out and "customer_no=C1" in out and secret not in out
    assert (tmp_path / "state.db").exists()
    code, out = run("clients", "add", "portal", "--scopes", "jobs:read", "--config", cfg)
    assert code == 2 and "exists already" in out
    code, out = run("clients", "add", "x", "--scopes", "jobz:read", "--config", cfg)
    assert code == 0 and "warning: the mapping declares no scope jobz:read" in out
    assert run("clients", "remove", "portal", "--config", cfg)[0] == 0
    assert run("clients", "remove", "portal", "--config", cfg)[0] == 2


def test_api_keys(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    code, out = run(
        "keys", "add", "erp", "--scopes", "jobs:read", "--expires-in", "90d", "--config", cfg
    )
    assert code == 0
    key = next(line for line in out.splitlines() if line.startswith("lwk_"))
    prefix = key.split("_")[1]
    code, out = run("keys", "list", "--config", cfg)
    assert prefix in out and "active" in out and key not in out
    assert run("keys", "revoke", prefix, "--config", cfg)[0] == 0
    assert "revoked" in run("keys", "list", "--config", cfg)[1]
    assert run("keys", "revoke", prefix, "--config", cfg)[0] == 2
    assert (
        run("keys", "add", "e", "--scopes", "jobs:read", "--expires-in", "soon", "--config", cfg)[0]
        == 2
    )


def test_signing_key_rotation(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert run("signing-keys", "rotate", "--config", cfg)[0] == 0
    assert run("signing-keys", "rotate", "--config", cfg)[0] == 0
    _code, out = run("signing-keys", "list", "--config", cfg)
    lines = out.strip().splitlines()
    assert len(lines) == 2 and "active" in lines[0] and "published until" in lines[1]


def test_serve_refuses_without_an_auth_section(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(CONFIG.split("auth:")[0])
    code, out = run("serve", "--config", str(path))
    assert code == 2 and "authentication is not configured" in out and "--no-auth" in out
