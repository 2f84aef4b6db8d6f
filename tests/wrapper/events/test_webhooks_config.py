"""The `webhooks:` section: the worker's delivery settings, checked at start."""

from __future__ import annotations

import pytest

from wrapper.config import ConfigError, parse_config
from wrapper.events.worker import delivery_config

BASE = """
source: {url: "sqlite://"}
versions: {v1: {resources: {r: {table: T, fields: {a: A}}}}}
"""


def test_the_section_sets_allowlist_timeout_concurrency_and_retries() -> None:
    config = parse_config(
        BASE + "webhooks: {allow: [127.0.0.0/8, hooks.internal], timeout: 2s, concurrency: 4,"
        " retry: [5s, 5m, 1h]}\n"
    )
    delivery = delivery_config(config.webhooks)
    assert delivery.timeout == 2.0 and delivery.concurrency == 4
    assert delivery.retry.schedule == (5.0, 300.0, 3600.0)
    assert delivery.allow.hosts == frozenset({"hooks.internal"})
    assert delivery.lease == 3 * 2.0  # a killed worker's claims free up after 3 timeouts


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("webhooks: {allow: [10.0.0.0/8, 'a b']}", "webhooks.allow: allowlist entry 'a b'"),
        ("webhooks: {timeout: 0}", "webhooks.timeout: a positive duration"),
        ("webhooks: {retry: [5s, later]}", "webhooks.retry: a list of durations"),
        ("webhooks: {concurrency: 0}", "webhooks.concurrency: at least 1"),
        ("webhooks: {secret: x}", "webhooks.secret: unknown key"),
    ],
)
def test_a_wrong_setting_is_named_with_its_line(section: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(BASE + section + "\n", filename="wrapper.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith("wrapper.yaml:4: ") and message in problem
