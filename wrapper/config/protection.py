"""The `limits` and `cache` sections of the configuration, and a resource's `cache`.

Parsed once at start into frozen objects, every problem with its file and line,
like the rest of `wrapper.config`.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import parse_many

from wrapper.config.located import Located, Problems, section, typed, unknown_keys

LIMIT_STRATEGIES = ("fixed-window", "moving-window", "sliding-window-counter")


@dataclass(frozen=True)
class LimitsConfig:
    """Rate limits; `enabled` is False when the file has no `limits` section."""

    enabled: bool = False
    storage: str = "memory://"
    strategy: str = "fixed-window"
    key_prefix: str = "lw-limits"
    default: str | None = None  # per client
    global_: str | None = None  # all clients together
    scopes: tuple[tuple[str, str], ...] = ()
    clients: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CacheConfig:
    """Where cached responses live; resources opt in with `cache: {max_age: N}`."""

    storage: str = "memory://"
    key_prefix: str = "lw-cache"
    wait: float = 5.0  # how long coalesced callers wait for the first one


@dataclass(frozen=True)
class ResourceCacheConfig:
    max_age: int  # seconds: Cache-Control max-age and the shared cache lifetime
    shared: bool = True  # False: only ETag and Cache-Control, no shared cache


def _storage(node: Located, path: str, problems: Problems) -> str:
    storage = typed(node, "storage", str, path, problems) or "memory://"
    if not storage.startswith(("memory://", "redis://", "rediss://")):
        problems.at(node, "storage", f"{path}.storage", "use memory:// or redis://host:port/db")
    return storage


def _rate(node: Located, key: str, path: str, problems: Problems) -> str | None:
    value = typed(node, key, str, path, problems)
    if value is None:
        return None
    try:
        parse_many(value)
    except ValueError:
        problems.at(node, key, path, f"{value!r} is not a rate such as 100/minute or 10/second")
        return None
    return value


def _rates(node: Located, key: str, path: str, problems: Problems) -> tuple[tuple[str, str], ...]:
    tiers = node.get(key)
    if tiers is None:
        return ()
    if not isinstance(tiers, Located):
        problems.at(node, key, f"{path}.{key}", "a mapping of name: rate")
        return ()
    found = []
    for name in tiers:
        rate = _rate(tiers, name, f"{path}.{key}.{name}", problems)
        if rate:
            found.append((str(name), rate))
    return tuple(found)


def parse_limits(raw: Located, problems: Problems) -> LimitsConfig:
    node = section(raw, "limits", problems)
    if node is None:
        return LimitsConfig()
    allowed = {"storage", "strategy", "key_prefix", "default", "global", "scopes", "clients"}
    unknown_keys(node, allowed, "limits", problems)
    strategy = typed(node, "strategy", str, "limits", problems) or "fixed-window"
    if strategy not in LIMIT_STRATEGIES:
        problems.at(node, "strategy", "limits.strategy", f"one of {list(LIMIT_STRATEGIES)}")
    return LimitsConfig(
        enabled=True,
        storage=_storage(node, "limits", problems),
        strategy=strategy,
        key_prefix=typed(node, "key_prefix", str, "limits", problems) or "lw-limits",
        default=_rate(node, "default", "limits.default", problems),
        global_=_rate(node, "global", "limits.global", problems),
        scopes=_rates(node, "scopes", "limits", problems),
        clients=_rates(node, "clients", "limits", problems),
    )


def parse_cache(raw: Located, problems: Problems) -> CacheConfig:
    node = section(raw, "cache", problems)
    if node is None:
        return CacheConfig()
    unknown_keys(node, {"storage", "key_prefix", "wait"}, "cache", problems)
    wait = typed(node, "wait", (int, float), "cache", problems)
    if wait is not None and wait <= 0:
        problems.at(node, "wait", "cache.wait", "must be greater than 0")
        wait = None
    return CacheConfig(
        storage=_storage(node, "cache", problems),
        key_prefix=typed(node, "key_prefix", str, "cache", problems) or "lw-cache",
        wait=float(wait or 5.0),
    )


def parse_resource_cache(
    body: Located, path: str, problems: Problems
) -> ResourceCacheConfig | None:
    node = body.get("cache")
    if node is None:
        return None
    if not isinstance(node, Located):
        problems.at(body, "cache", f"{path}.cache", "a mapping such as {max_age: 2}")
        return None
    unknown_keys(node, {"max_age", "shared"}, f"{path}.cache", problems)
    max_age = typed(node, "max_age", int, f"{path}.cache", problems)
    if max_age is None or max_age < 1:
        problems.at(node, "max_age", f"{path}.cache.max_age", "whole seconds, at least 1")
        return None
    shared = typed(node, "shared", bool, f"{path}.cache", problems)
    return ResourceCacheConfig(max_age, True if shared is None else shared)
