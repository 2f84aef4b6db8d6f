"""Load generators: wrk when installed, a bounded Python one otherwise.

Both send GET requests rotating over a list of paths for a fixed duration and
return the same summary: requests, req/s, latency percentiles and errors
(connection errors, timeouts and non-2xx/3xx answers).
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LUA_SCRIPT = Path(__file__).resolve().parent / "rotate.lua"


def wrk_path() -> str | None:
    return shutil.which("wrk")


def describe() -> str:
    """The load generator that `run_load` will use."""
    wrk = wrk_path()
    if not wrk:
        return "python (wrk not installed)"
    out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    first = (out.stdout or out.stderr).strip().splitlines()
    return first[0] if first else "wrk"


def run_load(
    base_url: str,
    paths: list[str],
    duration: float,
    connections: int,
    threads: int = 2,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Drive `paths` at `base_url` for `duration` seconds with `connections`
    connections, sending `headers` (credentials) with every request."""
    if not paths:
        raise ValueError("no paths to request")
    if wrk_path():
        return _run_wrk(base_url, paths, duration, connections, threads, headers or {})
    return _run_python(base_url, paths, duration, connections, headers or {})


def _summary(
    requests: int, seconds: float, p50_us: float, p90_us: float, p99_us: float, errors: dict
) -> dict[str, Any]:
    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": round(p50_us / 1000, 2),
        "p90_ms": round(p90_us / 1000, 2),
        "p99_ms": round(p99_us / 1000, 2),
        "errors": errors,
        "error_count": sum(errors.values()),
    }


def _run_wrk(
    base_url: str,
    paths: list[str],
    duration: float,
    connections: int,
    threads: int,
    headers: dict[str, str],
) -> dict[str, Any]:
    threads = max(1, min(threads, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".paths", delete=False) as f:
        f.write("\n".join(paths) + "\n")
        paths_file = f.name
    try:
        cmd = [
            wrk_path() or "wrk",
            "-t", str(threads),
            "-c", str(connections),
            "-d", f"{max(1, round(duration))}s",
            "--timeout", "10s",
            *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
            "-s", str(LUA_SCRIPT),
            base_url,
            "--",
            paths_file,
        ]  # fmt: skip
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=duration + 60, check=False
        )
    finally:
        Path(paths_file).unlink(missing_ok=True)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line.removeprefix("BENCH_JSON "))
            return _summary(
                raw["requests"],
                raw["duration_us"] / 1e6,
                raw["p50_us"],
                raw["p90_us"],
                raw["p99_us"],
                raw["errors"],
            )
    raise RuntimeError(f"wrk gave no summary (exit {out.returncode}):\n{out.stdout}{out.stderr}")


def combine(slices: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary from several measurement slices of the same target.

    req/s is total requests over total time; each latency percentile is the
    median of the slices' percentiles (slices alternate with another target, so
    a burst of outside load lands on both instead of on one whole measurement).
    """
    requests = sum(s["requests"] for s in slices)
    seconds = sum(s["seconds"] for s in slices)
    errors: dict[str, int] = {}
    for s in slices:
        for key, value in s["errors"].items():
            errors[key] = errors.get(key, 0) + value

    def median(key: str) -> float:
        values = sorted(s[key] for s in slices)
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2

    return {
        "requests": requests,
        "seconds": round(seconds, 3),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": round(median("p50_ms"), 2),
        "p90_ms": round(median("p90_ms"), 2),
        "p99_ms": round(median("p99_ms"), 2),
        "errors": errors,
        "error_count": sum(errors.values()),
        "slice_rps": [s["rps"] for s in slices],
        "slice_p99_ms": [s["p99_ms"] for s in slices],
    }


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


def _run_python(
    base_url: str, paths: list[str], duration: float, connections: int, headers: dict[str, str]
) -> dict[str, Any]:
    """A bounded fallback: `connections` threads with keep-alive, each stopping at the deadline.

    It shares the GIL and the machine with the servers, so its numbers are lower
    than wrk's; compare ratios, not absolute rates, across generators.
    """
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.monotonic() + duration
    lock = threading.Lock()
    latencies: list[float] = []
    errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}

    def worker(offset: int) -> None:
        local: list[float] = []
        local_errors = dict.fromkeys(errors, 0)
        conn: http.client.HTTPConnection | None = None
        i = offset
        while time.monotonic() < deadline:
            path = paths[i % len(paths)]
            i += 1
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=10)
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    local_errors["status"] += 1
                if response.will_close:
                    conn.close()
                    conn = None
            except TimeoutError:
                local_errors["timeout"] += 1
                conn = None
                continue
            except (ConnectionError, http.client.HTTPException, OSError):
                local_errors["read"] += 1
                conn = None
                continue
            local.append((time.perf_counter() - started) * 1e6)
        if conn is not None:
            conn.close()
        with lock:
            latencies.extend(local)
            for key, value in local_errors.items():
                errors[key] += value

    started = time.monotonic()
    workers = [
        threading.Thread(target=worker, args=(n * 7919,), daemon=True) for n in range(connections)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=duration + 30)
    elapsed = time.monotonic() - started
    latencies.sort()
    return _summary(
        len(latencies),
        elapsed,
        _percentile(latencies, 0.50),
        _percentile(latencies, 0.90),
        _percentile(latencies, 0.99),
        errors,
    )
