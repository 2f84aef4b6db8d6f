"""Reading a loaded export against the same data as a plain SQLite source.

    python -m bench.files_serving [--records 200000] [--requests 2000] [--rounds 5]

Generates (once, cached in bench/.data/) the fixed-width EBCDIC export of
`bench.file_load` (packed decimals), serves it through a files source (the
export is loaded at start: the time is printed), copies the loaded table into a
standalone SQLite file (same columns, same indexes) and serves that through an
ordinary `sql` source with the same mapping. Both apps run in this process
(Flask's test client, no HTTP server: the difference is the source, not the
server), alternately, `rounds` times per workload; the median requests per
second of wall time and of CPU time are compared:

- `item`: an account by key;
- `filter`: one branch's accounts sorted by balance, 50 a page;
- `walk`: the next page after a cursor 20 pages into the branch;
- `count`: the exact count of a branch's accounts.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.databases import DATA_DIR
from bench.file_load import COPYBOOK, generate

MAPPING = """
{source}
versions:
  v1:
    resources:
      accounts:
        table: ACCOUNTS
        fields:
          account_no: {{column: ACCT-NO, convert: trim, filter: true, sort: true}}
          name: {{column: NAME, convert: trim}}
          branch: {{column: BRANCH, convert: trim, filter: true, sort: true}}
          balance: {{column: BALANCE, filter: true, sort: true}}
          credit_limit: {{column: CREDIT-LIMIT}}
          opened: {{column: OPENED, convert: {{date: YYYYMMDD}}}}
          status: {{column: STATUS, filter: true}}
"""
FILES_SOURCE = """sources:
  exports:
    kind: files
    check_interval: 3600
    tables:
      ACCOUNTS:
        path: {drop}/
        format: fixed_width
        copybook: {copybook}
        encoding: cp037
        key: [ACCT-NO]
        sort: [[BRANCH, BALANCE]]
"""


def build_apps(folder: Path, export: Path) -> tuple[dict[str, Any], float]:
    import os

    from wrapper.app import create_app
    from wrapper.config import load_config

    drop = folder / "drop"
    drop.mkdir()
    os.symlink(export, drop / export.name)
    (folder / "ACCOUNTS.cpy").write_text(COPYBOOK)
    files_yaml = folder / "files.yaml"
    source = FILES_SOURCE.format(drop=drop, copybook=folder / "ACCOUNTS.cpy")
    files_yaml.write_text(MAPPING.format(source=source))
    started = time.perf_counter()
    files_app = create_app(load_config(files_yaml), no_auth=True)
    load_seconds = time.perf_counter() - started
    generation = next((folder / "wrapper-state-files" / "exports").glob("gen-*.db"))
    plain = folder / "plain.db"
    with sqlite3.connect(generation) as conn:
        conn.execute("VACUUM INTO ?", (str(plain),))
    sql_yaml = folder / "sql.yaml"
    sql_yaml.write_text(MAPPING.format(source=f"source: {{url: 'sqlite:///{plain}'}}"))
    sql_app = create_app(load_config(sql_yaml), no_auth=True)
    return {"files": files_app, "sqlite": sql_app}, load_seconds


def workloads(client: Any, records: int, rng: random.Random) -> dict[str, list[str]]:
    branches = [f"B{n:03d}" for n in range(100)]
    deep = {}
    for branch in branches[:20]:  # a cursor up to 20 pages in
        url = f"/v1/accounts?branch={branch}&sort=balance&limit=50"
        for _ in range(20):
            cursor = client.get(url + deep.get(branch, "")).get_json()["next_cursor"]
            if cursor is None:
                break
            deep[branch] = f"&cursor={cursor}"
    return {
        "item": [f"/v1/accounts/A{rng.randrange(records):09d}" for _ in range(500)],
        "filter": [f"/v1/accounts?branch={b}&sort=balance&limit=50" for b in branches],
        "walk": [f"/v1/accounts?branch={b}&sort=balance&limit=50{c}" for b, c in deep.items()],
        "count": [f"/v1/accounts?branch={b}&count=exact&limit=1" for b in branches],
    }


def rate(client: Any, paths: list[str], requests: int) -> tuple[float, float]:
    """Requests per second of wall time and per second of this process's CPU time
    (the steadier figure on a shared machine)."""
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(requests):
        response = client.get(paths[n % len(paths)])
        assert response.status_code == 200, response.get_data(as_text=True)
    return requests / (time.perf_counter() - started), requests / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    fixed = DATA_DIR / f"accounts-{args.records}.dat"
    csv = DATA_DIR / f"accounts-{args.records}.csv"
    if not (fixed.exists() and csv.exists()):
        print(f"generating {args.records:,} records ...", flush=True)
        generate(args.records, fixed, csv)
    with tempfile.TemporaryDirectory(dir=DATA_DIR) as temp:
        apps, load_seconds = build_apps(Path(temp), fixed)
        print(f"{args.records:,} records loaded by the files source in {load_seconds:.1f} s")
        clients = {name: app.test_client() for name, app in apps.items()}
        paths = workloads(clients["files"], args.records, random.Random(7))
        files_client, sqlite_client = clients["files"], clients["sqlite"]
        for path in paths["filter"][:5] + paths["walk"][:5] + paths["item"][:5]:
            assert files_client.get(path).get_json() == sqlite_client.get(path).get_json(), path
        print(
            f"{'workload':<10}{'files req/s':>13}{'sqlite req/s':>13}{'ratio':>7}"
            f"{'files req/CPU-s':>17}{'sqlite req/CPU-s':>18}{'ratio':>7}"
        )
        for workload, urls in paths.items():
            wall: dict[str, list[float]] = {name: [] for name in clients}
            cpu: dict[str, list[float]] = {name: [] for name in clients}
            for round_ in range(args.rounds):  # alternate which app goes first
                for name in sorted(clients, reverse=bool(round_ % 2)):
                    by_wall, by_cpu = rate(clients[name], urls, args.requests // args.rounds)
                    wall[name].append(by_wall)
                    cpu[name].append(by_cpu)
            fw, sw = (statistics.median(wall[n]) for n in ("files", "sqlite"))
            fc, sc = (statistics.median(cpu[n]) for n in ("files", "sqlite"))
            print(
                f"{workload:<10}{fw:>13,.0f}{sw:>13,.0f}{fw / sw:>7.2f}"
                f"{fc:>17,.0f}{sc:>18,.0f}{fc / sc:>7.2f}"
            )
        for app in apps.values():
            app.extensions["legacy_wrapper"].close()


if __name__ == "__main__":
    main()
