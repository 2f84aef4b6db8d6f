"""Rate limits (flask-limiter): per client, by tier, under a global ceiling.

A client is `Access.identity` (token subject or API key id) when there is
one, else the client IP. Its rate is, in order: its `clients` tier, the most
generous `scopes` tier among its scopes (`Access.scopes` once authentication
provides them), else `default`. `global` caps all clients together. Both
limits are shared by every endpoint; health probes, `/metrics` and the docs'
assets are not limited.

Every limited response carries the IETF fields (draft-ietf-httpapi-ratelimit-
headers): `RateLimit-Policy: "client";q=600;w=60, "global";q=6000;w=60` and
`RateLimit: "client";r=599;t=42` for the limit closest to running out. A 429
is a problem+json body with `Retry-After`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from flask import Flask, Response, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded, RequestLimit
from limits import parse

from wrapper.access import Access
from wrapper.config import LimitsConfig
from wrapper.metrics import Metrics
from wrapper.problems import RateLimited, handle_problem

log = logging.getLogger(__name__)
Identify = Callable[[], Access]
UNLIMITED_PATHS = ("/livez", "/healthz", "/readyz", "/metrics", "/_assets/")


def client_key(access: Access) -> str:
    if access.identity is not None:
        return f"id:{access.identity}"
    return f"ip:{request.remote_addr or 'unknown'}"


def tier_for(config: LimitsConfig, access: Access) -> str | None:
    """The rate that applies to this caller (None: no per-client limit)."""
    clients = dict(config.clients)
    if access.identity is not None and access.identity in clients:
        return clients[access.identity]
    scopes = access.scopes
    rates = [rate for scope, rate in config.scopes if scope in scopes]
    if rates:
        return max(rates, key=_per_second)
    return config.default


def _per_second(rate: str) -> float:
    item = parse(rate)
    return item.amount / item.get_expiry()


def init_limits(app: Flask, config: LimitsConfig, identify: Identify, metrics: Metrics) -> Limiter:
    """Attach a limiter built from `config` to `app` (call only when limits are enabled)."""

    def client() -> str:
        return client_key(identify())

    application_limits = [
        ApplicationLimit(
            lambda: tier_for(config, identify()) or "", key_function=client, scope="client"
        )
    ]
    if config.global_:
        application_limits.append(
            ApplicationLimit(config.global_, key_function=lambda: "all", scope="global")
        )
    limiter = Limiter(
        client,
        application_limits=application_limits,  # type: ignore[arg-type]
        storage_uri=config.storage,
        strategy=config.strategy,
        key_prefix=config.key_prefix,
        headers_enabled=False,  # the IETF fields below replace the legacy X-RateLimit-*
    )
    limiter.request_filter(lambda: request.path.startswith(UNLIMITED_PATHS))
    limiter.init_app(app)

    @app.after_request
    def ratelimit_fields(response: Response) -> Response:
        current = limiter.current_limits
        if current:
            response.headers["RateLimit-Policy"] = ", ".join(
                f'"{_name(rl)}";q={rl.limit.amount};w={rl.limit.get_expiry()}' for rl in current
            )
            tightest = min(current, key=lambda rl: (not rl.breached, rl.remaining))
            response.headers["RateLimit"] = (
                f'"{_name(tightest)}";r={max(tightest.remaining, 0)};t={_seconds_left(tightest)}'
            )
        return response

    def too_many(err: RateLimitExceeded) -> Response:
        current = limiter.current_limit
        name = _name(current) if current else "client"
        retry = _seconds_left(current) if current else 1
        metrics.rate_limited.labels(name).inc()
        problem = RateLimited(
            f"the {name} rate limit of {err.limit.limit} is used up; retry in {retry} s",
            headers={"Retry-After": str(retry)},
        )
        return handle_problem(problem)

    app.register_error_handler(RateLimitExceeded, too_many)
    return limiter


def _name(limit: RequestLimit) -> str:
    return "global" if limit.shared and "global" in limit.key.split("/") else "client"


def _seconds_left(limit: RequestLimit) -> int:
    left = math.ceil(limit.reset_at - time.time())
    return min(limit.limit.get_expiry(), max(1, left))


def warn_if_per_process(config: LimitsConfig, workers: int) -> str | None:
    """Why `memory://` limits cannot be right with several workers (None when fine)."""
    if config.enabled and workers > 1 and config.storage.startswith("memory://"):
        return (
            f"limits.storage is memory:// but {workers} workers would each count alone "
            f"(a limit of N would admit {workers}N): use redis://, or --workers 1"
        )
    return None
