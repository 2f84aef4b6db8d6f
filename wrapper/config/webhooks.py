"""The `webhooks:` section: what the subscriptions API (`/vN/webhooks`) allows, and
how the worker delivers events.

Shape (every key optional)::

    webhooks:
      allow: [127.0.0.1, 10.20.0.0/16, hooks.internal]  # targets reachable although
                                  # loopback, private or link-local (the SSRF guard
                                  # refuses those otherwise; metadata addresses stay
                                  # refused unless listed as single addresses)
      secret_overlap: 86400       # seconds a rotated secret keeps signing (default 1 day)
      max_secret_overlap: 604800  # the most a caller may ask for (default 7 days)
      max_subscriptions: 100      # per owner and version
      timeout: 15s                # the worker: per attempt (connect, send, each read)
      concurrency: 32             # the worker: requests in flight
      retry: [5s, 5m, 30m, 2h, 5h, 10h, 10h]  # the worker: pauses after failed attempts

Without the section nothing private is reachable and the defaults of
`wrapper.events.delivery.DeliveryConfig` apply to delivery.
"""

from __future__ import annotations

from dataclasses import dataclass

from wrapper.config.capture import duration
from wrapper.config.located import Located, Problems, section, typed, unknown_keys
from wrapper.events.ssrf import TargetPolicy

DAY = 86400.0
_KEYS = {
    "allow", "secret_overlap", "max_secret_overlap", "max_subscriptions",
    "timeout", "concurrency", "retry",
}  # fmt: skip


@dataclass(frozen=True)
class WebhooksConfig:
    allow: tuple[str, ...] = ()
    secret_overlap: float = DAY
    max_secret_overlap: float = 7 * DAY
    max_subscriptions: int = 100
    timeout: float | None = None  # None: the delivery default
    concurrency: int | None = None
    retry: tuple[float, ...] | None = None

    @property
    def policy(self) -> TargetPolicy:
        return TargetPolicy.from_entries(self.allow)


def parse_webhooks(raw: Located, problems: Problems) -> WebhooksConfig:
    node = section(raw, "webhooks", problems)
    if node is None:
        return WebhooksConfig()
    unknown_keys(node, _KEYS, "webhooks", problems)
    defaults = WebhooksConfig()
    allow = node.get("allow", [])
    if isinstance(allow, str):
        allow = [allow]
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        problems.at(node, "allow", "webhooks.allow", "a list of CIDRs, addresses or host names")
        allow = []
    try:
        TargetPolicy.from_entries(allow)
    except ValueError as err:
        problems.at(node, "allow", "webhooks.allow", str(err))
        allow = []
    numbers = {}
    for key in ("secret_overlap", "max_secret_overlap", "max_subscriptions"):
        value = typed(node, key, int if key == "max_subscriptions" else (int, float), "webhooks",
                      problems)  # fmt: skip
        if value is not None and value < 0:
            problems.at(node, key, f"webhooks.{key}", "may not be negative")
            value = None
        numbers[key] = getattr(defaults, key) if value is None else value
    if numbers["secret_overlap"] > numbers["max_secret_overlap"]:
        problems.at(node, "secret_overlap", "webhooks.secret_overlap", "exceeds max_secret_overlap")
    return WebhooksConfig(
        tuple(allow),
        float(numbers["secret_overlap"]),
        float(numbers["max_secret_overlap"]),
        int(numbers["max_subscriptions"]),
        *_delivery(node, problems),
    )


def _delivery(
    node: Located, problems: Problems
) -> tuple[float | None, int | None, tuple[float, ...] | None]:
    """The worker's settings: timeout, concurrency, retry schedule."""
    timeout = None
    if "timeout" in node:
        timeout = duration(node["timeout"])
        if not timeout:
            problems.at(node, "timeout", "webhooks.timeout", "a positive duration such as 15s")
    concurrency = typed(node, "concurrency", int, "webhooks", problems)
    if concurrency is not None and concurrency < 1:
        problems.at(node, "concurrency", "webhooks.concurrency", "at least 1")
    retry = None
    if "retry" in node:
        items = node["retry"]
        pauses = [duration(p) for p in items] if isinstance(items, list) else [None]
        if None in pauses:
            problems.at(node, "retry", "webhooks.retry", "a list of durations such as [5s, 5m]")
        else:
            retry = tuple(p for p in pauses if p is not None)
    return timeout, concurrency, retry
