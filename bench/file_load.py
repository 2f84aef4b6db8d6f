"""Loading a legacy export: fixed-width EBCDIC with packed decimals, and the same data as CSV.

    python -m bench.file_load [--records 1000000] [--only csv,csvgen,csv1,fixed,duckdb,duckdb1]
                              [--heap] [--baseline DIR]

Generates (once, cached in bench/.data/) a fixed-width cp037 file described by
the copybook below and a UTF-8 CSV of the same records, then measures, each in
a fresh process so that peak memory is its own:

- `fixed`: `FixedWidthReader` + `load()` into a SQLite file (key and one index);
- `csv`: `CsvReader` (declared types) + `load()`, same table: a plain file is
  read by SQLite's vsv table while a thread checks it (`csv_whole`);
- `csvgen`: the same the general way (Python splits and binds), plain chunks
  checked ahead by a helper process (`csv_ahead`) on a machine with two cores;
- `csv1`: the general way in one process (`csv_reader.AHEAD = False`);
- `duckdb`: DuckDB's `read_csv` of the same CSV into a DuckDB file, the ceiling
  (all cores); `duckdb1` the same on one thread, as the loader runs.

Prints records per second by elapsed time and by CPU time (the machine may be
shared: CPU time is the steadier figure; it includes the helper process's),
the ratio to the ceiling and the peak resident memory (`ru_maxrss`) of each
process (and of its helper, if any), next to an idle interpreter with the
same imports. `--baseline DIR` also runs `fixed` and `csv` with the
`legacy_adapters` package found first in DIR (an earlier version, exported
with `git archive`), in the same run: before and after against one ceiling.
`--heap` loads the files once more with `tracemalloc` on and adds the peak
of the Python heap (not timed: tracing slows the load down).
Needs the `bench` extra (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from bench.databases import DATA_DIR

COPYBOOK = """
       01  ACCOUNT-REC.
           05  ACCT-NO         PIC X(10).
           05  NAME            PIC X(24).
           05  BRANCH          PIC X(4).
           05  BALANCE         PIC S9(11)V99 COMP-3.
           05  CREDIT-LIMIT    PIC S9(7)V99  COMP-3.
           05  TXN-COUNT       PIC S9(7)     COMP-3.
           05  RATE            PIC S9(3)V9(4).
           05  OPENED          PIC 9(8).
           05  STATUS          PIC X.
           05  SCORE           PIC 9(4)      COMP.
"""
COLUMNS = [
    "ACCT-NO", "NAME", "BRANCH", "BALANCE", "CREDIT-LIMIT", "TXN-COUNT", "RATE", "OPENED",
    "STATUS", "SCORE",
]  # fmt: skip
CSV_TYPES = {
    "BALANCE": "decimal(13,2)",
    "CREDIT-LIMIT": "decimal(9,2)",
    "TXN-COUNT": "integer",
    "RATE": "decimal(7,4)",
    "OPENED": "integer",
    "SCORE": "integer",
}
NAMES = ["MUELLER", "SMITH", "NGUYEN", "GARCIA", "ROSSI", "DUBOIS", "KOWALSKI", "SILVA"]


def _packed(value: int, digits: int) -> bytes:
    sign = "d" if value < 0 else "c"
    width = digits if digits % 2 else digits + 1
    return bytes.fromhex(f"{abs(value):0{width}d}{sign}")


def _zoned(value: int, digits: int) -> bytes:
    text = f"{abs(value):0{digits}d}".encode("cp037")
    zone = 0xD0 if value < 0 else 0xC0
    return text[:-1] + bytes([zone | (text[-1] & 0x0F)])


def generate(records: int, fixed: Path, csv: Path) -> None:
    rng = random.Random(12)
    with open(fixed, "wb") as fout, open(csv, "w", encoding="utf-8", newline="") as cout:
        cout.write(",".join(COLUMNS) + "\n")
        for i in range(records):
            name = f"{rng.choice(NAMES)} {rng.randrange(1000):03d}"
            branch = f"B{rng.randrange(100):03d}"
            balance = rng.randrange(-(10**9), 10**11)
            limit = rng.randrange(10**9)
            txns = rng.randrange(10**6)
            rate = rng.randrange(-(10**5), 10**5)
            opened = (
                19700101 + rng.randrange(50) * 10000 + rng.randrange(12) * 100 + rng.randrange(28)
            )
            status = rng.choice("AOCX")
            score = rng.randrange(10000)
            acct = f"A{i:09d}"
            fout.write(
                f"{acct:<10}{name:<24}{branch:<4}".encode("cp037")
                + _packed(balance, 13)
                + _packed(limit, 9)
                + _packed(txns, 7)
                + _zoned(rate, 7)
                + f"{opened:08d}{status}".encode("cp037")
                + score.to_bytes(2, "big")
            )
            sign = "-" if balance < 0 else ""
            rsign = "-" if rate < 0 else ""
            cout.write(
                f"{acct},{name},{branch},{sign}{abs(balance) // 100}.{abs(balance) % 100:02d},"
                f"{limit // 100}.{limit % 100:02d},{txns},{rsign}{abs(rate) // 10000}."
                f"{abs(rate) % 10000:04d},{opened},{status},{score}\n"
            )


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """This process's CPU time and that of its children waited for (the CSV helper)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _helper_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_task(task: str, data: Path, records: int, heap: bool = False) -> dict:
    """Runs in the child process."""
    baseline = os.environ.get("FILE_LOAD_BASELINE")
    if baseline:  # ahead of the working directory, which `python -m` puts first
        sys.path.insert(0, baseline)
        import legacy_adapters

        assert legacy_adapters.__file__.startswith(baseline), legacy_adapters.__file__
    from legacy_adapters.files import copybook
    from legacy_adapters.files.csv_reader import CsvReader
    from legacy_adapters.files.fixed_width import FixedWidthReader
    from legacy_adapters.files.loader import load

    if task == "idle":
        return {"seconds": 0.0, "cpu": 0.0, "peak_mb": _peak_mb(), "rows": 0}
    target = data / f"load-{task}.db"
    if task in ("fixed", "csv", "csvgen", "csv1"):
        if task in ("csvgen", "csv1"):
            from legacy_adapters.files import csv_reader, csv_whole

            csv_whole.connect = lambda path: None
            csv_reader.AHEAD = task == "csvgen"
        if task == "fixed":
            reader = FixedWidthReader(
                data / f"accounts-{records}.dat", copybook.parse(COPYBOOK), encoding="cp037"
            )
        else:
            reader = CsvReader(data / f"accounts-{records}.csv", types=CSV_TYPES)
        if heap:
            tracemalloc.start()
        start, cpu = time.perf_counter(), _cpu()
        report = load(reader, target, table="ACCOUNTS", key=["ACCT-NO"], indexes=[["BRANCH"]])
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
        rows = report.rows_loaded
        if heap:
            target.unlink(missing_ok=True)
            return {"heap_mb": tracemalloc.get_traced_memory()[1] / 2**20}
    else:
        import duckdb

        target = data / f"load-{task}.duckdb"
        target.unlink(missing_ok=True)
        conn = duckdb.connect(str(target))
        if task == "duckdb1":
            conn.execute("SET threads = 1")
        start, cpu = time.perf_counter(), _cpu()
        conn.execute(
            "CREATE TABLE accounts AS SELECT * FROM read_csv(?, header = true)",
            [str(data / f"accounts-{records}.csv")],
        )
        conn.execute("CHECKPOINT")
        seconds, cpu = time.perf_counter() - start, _cpu() - cpu
        rows = conn.execute("SELECT count(*) FROM accounts").fetchone()[0]
        conn.close()
    target.unlink(missing_ok=True)
    peak = {"helper_mb": _helper_peak_mb()} if _helper_peak_mb() else {}
    return {"seconds": seconds, "cpu": cpu, "peak_mb": _peak_mb(), "rows": rows} | peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--only", default="idle,fixed,csv,csvgen,csv1,duckdb,duckdb1")
    parser.add_argument("--baseline", help="a directory holding an earlier legacy_adapters")
    parser.add_argument("--heap", action="store_true", help="also the tracemalloc heap peak")
    parser.add_argument("--task", help=argparse.SUPPRESS)
    args = parser.parse_args()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if args.task:
        print(json.dumps(run_task(args.task, DATA_DIR, args.records, args.heap)))
        return
    fixed = DATA_DIR / f"accounts-{args.records}.dat"
    csv = DATA_DIR / f"accounts-{args.records}.csv"
    if not (fixed.exists() and csv.exists()):
        print(f"generating {args.records:,} records ...", flush=True)
        generate(args.records, fixed, csv)
    print(
        f"{args.records:,} records: fixed-width {fixed.stat().st_size / 1e6:.0f} MB (cp037, "
        f"packed), CSV {csv.stat().st_size / 1e6:.0f} MB; {os.cpu_count()} cores\n"
    )
    tasks = args.only.split(",")
    results = {}
    for task in tasks:
        if args.baseline and task in ("fixed", "csv"):
            results[f"{task}@baseline"] = _child(task, args.records, baseline=args.baseline)
        results[task] = _child(task, args.records)
    if args.heap:
        for task in ("fixed", "csv", "csvgen", "csv1"):
            if task in results:
                results[task] |= _child(task, args.records, "--heap")
    ceiling = results.get("duckdb")
    print(
        f"{'loader':<34}{'wall s':>8}{'records/s':>11}{'of ceiling':>11}"
        f"{'CPU s':>8}{'rec/CPU-s':>11}{'of ceiling':>11}{'peak RSS MB':>12}{'heap MB':>9}"
        f"{'helper MB':>11}"
    )
    labels = {
        "idle": "interpreter + imports (baseline)",
        "fixed": "fixed-width EBCDIC -> SQLite",
        "csv": "CSV -> SQLite",
        "csvgen": "CSV, general way, helper process",
        "csv1": "CSV, general way, one process",
        "fixed@baseline": "fixed-width, baseline",
        "csv@baseline": "CSV -> SQLite, baseline",
        "duckdb": "DuckDB read_csv (ceiling)",
        "duckdb1": "DuckDB read_csv, 1 thread",
    }
    for task, r in results.items():
        if task == "idle":
            print(f"{labels[task]:<34}{'':>70}{r['peak_mb']:>12.0f}")
            continue
        rate, cpu_rate = r["rows"] / r["seconds"], r["rows"] / r["cpu"]
        share = cpu_share = "-"
        if ceiling:
            share = f"{rate / (ceiling['rows'] / ceiling['seconds']):.2f}"
            cpu_share = f"{cpu_rate / (ceiling['rows'] / ceiling['cpu']):.2f}"
        print(
            f"{labels[task]:<34}{r['seconds']:>8.2f}{rate:>11,.0f}{share:>11}"
            f"{r['cpu']:>8.2f}{cpu_rate:>11,.0f}{cpu_share:>11}{r['peak_mb']:>12.0f}"
            + (f"{r['heap_mb']:>9.1f}" if "heap_mb" in r else f"{'':>9}")
            + (f"{r['helper_mb']:>11.0f}" if "helper_mb" in r else "")
        )
    print(
        "\nwall: elapsed time; CPU: user + system time of the process (all its threads)"
        " and of its helper process"
    )
    if args.heap:
        print("heap: peak of the Python heap (tracemalloc), in a separate, untimed load")


def _child(task: str, records: int, *extra: str, baseline: str | None = None) -> dict:
    env = dict(os.environ, FILE_LOAD_BASELINE=str(Path(baseline).resolve())) if baseline else None
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.file_load",
            "--task",
            task,
            "--records",
            str(records),
            *extra,
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
