"""Where one request's CPU goes: the per-stage cost table of the read path.

    python -m bench.stages --backend sqlite|postgresql [--requests N] [--profile]

Loads the wrapper in this process (no HTTP server) on the benchmark database
(`python -m bench.run --prepare-only` builds it), calls its WSGI callable for
each workload of bench.peer, and times each stage of the read path
with CPU timers wrapped around the functions that do it (less the timers' own
cost, calibrated on an empty function). `other` is the untimed request's CPU
less the stages: the WSGI environ, routing and the query string's parsing in
`wrapper/direct.py` (or, for requests it leaves to Flask, Flask's request
objects, dispatch and after-request hooks), the `Link` header, closing.
`--profile` prints cProfile's top functions too.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import hashlib
import hmac
import json
import pstats
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench.databases import DATA_DIR, prepare, sample_keys, write_config

# (stage, module path, attribute); a class attribute is patched on the class.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("identify+authorize", "wrapper.app", "allow_everything"),
    ("identify+authorize", "wrapper.app", "allow_everything_environ"),
    ("identify+authorize", "wrapper.auth.guard", "Guard.authorize"),
    ("identify+authorize", "wrapper.auth.guard", "Guard.authorize_environ"),
    ("parse", "wrapper.read", "parse_query"),
    ("parse", "wrapper.read", "parse_item_query"),
    ("plan", "wrapper.translate", "Planner.plan_list"),
    ("plan", "wrapper.translate", "Planner.plan_item"),
    ("execute", "legacy_adapters.bulkhead", "Bulkhead.select"),
    ("render", "wrapper.mapping.rendering", "Renderers.render_rows"),
    ("render", "wrapper.reader", "Reader._next_cursor"),
    ("encode", "wrapper.caching", "orjson.dumps"),
    ("headers", "wrapper.caching", "make_entity"),
    ("headers", "wrapper.caching", "conditional_response"),
    ("headers", "wrapper.caching", "cache_control"),
)
ORDER = ("identify+authorize", "parse", "plan", "execute", "render", "encode", "headers")


class _Clock:
    def __init__(self) -> None:
        self.spent: dict[str, float] = dict.fromkeys((*ORDER, "calibration"), 0.0)
        self.calls: dict[str, int] = dict.fromkeys(self.spent, 0)
        self.depth = 0

    def reset(self) -> None:
        for stage in self.spent:
            self.spent[stage] = 0.0
            self.calls[stage] = 0

    def timer_cost(self, samples: int = 20_000) -> float:
        """The CPU seconds a timed call adds to its own stage (half of the two clock
        reads), measured on a function that does nothing."""
        empty = self.wrap("calibration", lambda: None)
        for _ in range(samples):
            empty()
        cost = self.spent["calibration"] / samples
        self.reset()
        return cost

    def stage_us(self, requests: int, cost: float) -> dict[str, float]:
        return {s: max(0.0, self.spent[s] - self.calls[s] * cost) / requests * 1e6 for s in ORDER}

    def wrap(self, stage: str, func: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.process_time  # CPU: the machine is shared
        spent, calls = self.spent, self.calls

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.depth:  # a stage inside another counts for the outer one
                return func(*args, **kwargs)
            self.depth += 1
            start = clock()
            try:
                return func(*args, **kwargs)
            finally:
                spent[stage] += clock() - start
                calls[stage] += 1
                self.depth -= 1

        return timed


@contextlib.contextmanager
def timed_stages(clock: _Clock) -> Iterator[None]:
    """Wrap every stage function before the app is built (views capture some)."""
    import importlib

    undo = []
    for stage, module_name, attribute in STAGES:
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        if owner is None or not hasattr(owner, name):
            continue
        original = getattr(owner, name)
        if path and not isinstance(owner, type):
            # A C module (orjson) cannot be patched: the caller gets a stand-in module.
            holder = importlib.import_module(module_name)
            shim = type(sys)(f"{path[0]}_timed")
            shim.__dict__.update({k: getattr(owner, k) for k in dir(owner)})
            setattr(shim, name, clock.wrap(stage, original))
            undo.append((holder, path[0], owner))
            setattr(holder, path[0], shim)
            continue
        undo.append((owner, name, original))
        setattr(owner, name, clock.wrap(stage, original))
    try:
        yield
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


AUDIENCE = "plant-api"
ISSUER = "bench-sso"
SECRET = "bench-" + "s" * 34
SCOPES = "jobs:read orders:read jobs:all_work_centers orders:all"  # every row: no row rules


def auth_section() -> str:
    """A shared-secret (HS256) issuer: tokens are validated once, then from the cache."""
    return f"""
auth:
  audience: {AUDIENCE}
  issuers: [{{issuer: {ISSUER}, shared_secret: {SECRET}, algorithms: [HS256]}}]
"""


def bearer_token(lifetime: int = 3600) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "bench", "iat": now, "exp": now + lifetime}
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{head}.{b64(json.dumps({**claims, 'scope': SCOPES}).encode())}"
    mac = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def _workloads(keys: dict[str, Any], deep: str) -> dict[str, list[str]]:
    from urllib.parse import quote

    from bench.run import DASHBOARD

    return {
        "get-by-key": [f"/v1/jobs/{j}" for j in keys["job_ids"][:500]],
        "dashboard": [DASHBOARD],
        "orders-first-page": ["/v1/orders?limit=50"],
        "orders-deep-page": [f"/v1/orders?limit=50&cursor={quote(deep)}"],
        "customer-orders": [
            f"/v1/orders?customer_no={c}&sort=ordered_on&limit=50" for c in keys["customers"]
        ],
    }


def _caller(app: Any) -> Callable[[dict[str, Any]], None]:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"answered {status}")

    def call(environ: dict[str, Any]) -> None:
        body = app.wsgi_app(dict(environ), start_response)
        b"".join(body)
        if hasattr(body, "close"):
            body.close()

    return call


def measure(
    app: Any,
    paths: list[str],
    requests: int,
    clock: _Clock | None = None,
    headers: dict[str, str] | None = None,
) -> float:
    """CPU µs per request, after a warm-up (then `clock`, if any, starts from zero)."""
    from werkzeug.test import EnvironBuilder

    environs = [EnvironBuilder(path=p, headers=headers).get_environ() for p in paths]
    call = _caller(app)
    for environ in environs[:200] * 2:
        call(environ)
    if clock is not None:
        clock.reset()
    start = time.process_time()
    for i in range(requests):
        call(environs[i % len(environs)])
    return (time.process_time() - start) / requests * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true", help="also print cProfile's top 25")
    parser.add_argument(
        "--auth", action="store_true", help="a bearer token on every request (validated, cached)"
    )
    args = parser.parse_args(argv)

    from bench.run import deep_cursor
    from wrapper.app import create_app
    from wrapper.config import load_config

    url = prepare(args.backend, args.orders)
    config_path = write_config(url, DATA_DIR / f"wrapper-{args.backend}.yaml")
    headers = None
    if args.auth:
        config_path.write_text(config_path.read_text() + auth_section())
        headers = {"Authorization": f"Bearer {bearer_token()}"}
    keys = sample_keys(url, 500)
    clock = _Clock()
    apps = {}
    for timed in (False, True):
        with timed_stages(clock) if timed else contextlib.nullcontext():
            apps[timed] = create_app(load_config(config_path), no_auth=not args.auth)
    cost = clock.timer_cost()
    client = apps[False].test_client()
    if headers:
        client.environ_base["HTTP_AUTHORIZATION"] = headers["Authorization"]
    deep, _ = deep_cursor(client, keys["orders"])
    rows = []
    for name, paths in _workloads(keys, deep).items():
        total = measure(apps[False], paths, args.requests, headers=headers)
        with timed_stages(clock):
            timed_total = measure(apps[True], paths, args.requests, clock, headers)
        stages = clock.stage_us(args.requests, cost)
        stages["other"] = max(0.0, total - sum(stages.values()))
        rows.append((name, total, timed_total, stages))
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(measure, apps[False], paths, min(args.requests, 1000), None, headers)
            print(f"\n## cProfile, {name}, {args.backend}")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    print(format_table(rows, args.backend + (" (auth)" if args.auth else "")))
    return 0


def format_table(rows: list[tuple[str, float, float, dict[str, float]]], backend: str) -> str:
    head = ["workload", "backend", "total µs", *ORDER, "other"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, total, _timed, stages in rows:
        cells = [name, backend, f"{total:,.0f}"] + [f"{stages[s]:,.0f}" for s in (*ORDER, "other")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
