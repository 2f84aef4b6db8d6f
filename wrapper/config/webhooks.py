"""The `webhooks:` section: how the worker delivers events.

    webhooks:
      allow: [127.0.0.0/8, hooks.internal]  # targets allowed although private/loopback
      timeout: 15s                          # per attempt (connect, send, each read)
      concurrency: 32                       # requests in flight per worker
      retry: [5s, 5m, 30m, 2h, 5h, 10h, 10h]  # pauses after failed attempts (Svix-like)

Every key is optional; without the section nothing private is reachable and the
defaults of `wrapper.events.delivery.DeliveryConfig` apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from wrapper.config.capture import duration
from wrapper.config.located import Located, Problems, section, typed, unknown_keys


@dataclass(frozen=True)
class WebhooksConfig:
    allow: tuple[str, ...] = ()
    timeout: float | None = None  # None: the delivery default
    concurrency: int | None = None
    retry: tuple[float, ...] | None = None


def parse_webhooks(raw: Located, problems: Problems) -> WebhooksConfig:
    node = section(raw, "webhooks", problems)
    if node is None:
        return WebhooksConfig()
    unknown_keys(node, {"allow", "timeout", "concurrency", "retry"}, "webhooks", problems)
    allow = node.get("allow", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) and a for a in allow):
        problems.at(node, "allow", "webhooks.allow", "a list of CIDRs, addresses or host names")
        allow = []
    else:
        from wrapper.events.ssrf import TargetPolicy

        try:
            TargetPolicy.from_entries(allow)
        except ValueError as err:
            problems.at(node, "allow", "webhooks.allow", str(err))
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
    return WebhooksConfig(tuple(allow), timeout, concurrency, retry)
