"""Rate limits (flask-limiter): per client, by tier, under a global ceiling.

A client is the authenticated `Principal` (token subject or API key id) when
there is one, else the client IP. Its rate is, in order: its `clients` tier,
the most generous `scopes` tier among its scopes, else `default`. `global`
caps all clients together. Both limits are shared by every endpoint; health
probes, `/metrics` and the docs' assets are not limited.

Every limited response carries the IETF fields (draft-ietf-httpapi-ratelimit-
headers): `RateLimit-Policy: "client";q=600;w=60, "global";q=6000;w=60` and
`RateLimit: "client";r=599;t=42` for the limit closest to running out. A 429
is a problem+json body with `Retry-After`.

The token endpoint is left to its own limits (`KeyedLimits`: per client id and
per address, set under `auth.server.token_limits`), counted in the same
storage with the same fields, whether or not the API is limited.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from flask import Flask, Response, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded, RequestLimit
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import STRATEGIES

from wrapper.auth.principal import Principal
from wrapper.config import LimitsConfig
from wrapper.metrics import Metrics
from wrapper.problems import RateLimited, handle_problem

log = logging.getLogger(__name__)
Identify = Callable[[], Principal | None]  # the caller, once per request; None: anonymous
UNLIMITED_PATHS = ("/livez", "/healthz", "/readyz", "/metrics", "/_assets/")
OWN_LIMITS_PATHS = ("/oauth/token",)  # limited by KeyedLimits instead


@dataclass(frozen=True)
class Usage:
    """Where one caller stands against one named limit."""

    name: str
    amount: int
    window: int  # seconds
    remaining: int
    reset_in: int  # seconds
    breached: bool = False


def ietf_fields(usages: Sequence[Usage]) -> dict[str, str]:
    """`RateLimit-Policy` for every limit and `RateLimit` for the closest to running out."""
    if not usages:
        return {}
    tightest = min(usages, key=lambda u: (not u.breached, u.remaining))
    return {
        "RateLimit-Policy": ", ".join(f'"{u.name}";q={u.amount};w={u.window}' for u in usages),
        "RateLimit": f'"{tightest.name}";r={max(tightest.remaining, 0)};t={tightest.reset_in}',
    }


def client_key(principal: Principal | None) -> str:
    if principal is not None:
        return f"id:{principal.subject}"
    return f"ip:{request.remote_addr or 'unknown'}"


def tier_for(config: LimitsConfig, principal: Principal | None) -> str | None:
    """The rate that applies to this caller (None: no per-client limit)."""
    if principal is None:
        return config.default
    clients = dict(config.clients)
    if principal.subject in clients:
        return clients[principal.subject]
    scopes = principal.scopes
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
    limiter.request_filter(
        # A CORS preflight (OPTIONS) reads nothing and carries no credentials: a
        # browser sends one before its real request, which is counted.
        lambda: (
            request.method == "OPTIONS"
            or request.path.startswith(UNLIMITED_PATHS)
            or request.path in OWN_LIMITS_PATHS
        )
    )
    limiter.init_app(app)

    @app.after_request
    def ratelimit_fields(response: Response) -> Response:
        response.headers.update(ietf_fields([_usage(rl) for rl in limiter.current_limits]))
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


def _usage(limit: RequestLimit) -> Usage:
    item = limit.limit
    return Usage(
        _name(limit),
        item.amount,
        item.get_expiry(),
        limit.remaining,
        _seconds_left(limit),
        limit.breached,
    )


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


class KeyedLimits:
    """Named rates for one endpoint, each counted per its own key (a client id, an
    address), in the storage the API's limits use (`limits` library)."""

    def __init__(
        self, rates: Sequence[tuple[str, str]], storage: str, strategy: str, key_prefix: str
    ) -> None:
        self.rates: list[tuple[str, RateLimitItem]] = [(name, parse(r)) for name, r in rates]
        self._limiter = STRATEGIES[strategy](storage_from_string(storage))
        self._prefix = key_prefix

    def hit(self, keys: Mapping[str, str | None]) -> list[Usage]:
        """Count one request against each named limit whose key is given, in order,
        stopping at the first one used up (it is `breached`). A storage that cannot
        be reached lets the request through, uncounted, with a warning."""
        usages: list[Usage] = []
        try:
            for name, item in self.rates:
                key = keys.get(name)
                if key is None:
                    continue
                identity = (self._prefix, name, hashlib.sha256(key.encode()).hexdigest()[:32])
                allowed = self._limiter.hit(item, *identity)
                stats = self._limiter.get_window_stats(item, *identity)
                reset_in = min(item.get_expiry(), max(1, math.ceil(stats.reset_time - time.time())))
                expiry = item.get_expiry()
                usages.append(
                    Usage(name, item.amount, expiry, stats.remaining, reset_in, not allowed)
                )
                if not allowed:
                    break
        except Exception as err:  # a storage outage must not close the endpoint
            log.warning("cannot count rate limits: %s", err)
            return []
        return usages
