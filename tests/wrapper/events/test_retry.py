"""The retry schedule."""

from __future__ import annotations

import pytest

from wrapper.events.retry import DEFAULT_SCHEDULE, RetryPolicy


def test_the_default_schedule_spans_about_a_day_in_eight_attempts() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 8
    assert DEFAULT_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert 24 * 3600 < sum(DEFAULT_SCHEDULE) < 30 * 3600


@pytest.mark.parametrize(
    ("failed", "rand", "delay"),
    [(1, 0.5, 5.0), (2, 0.5, 300.0), (7, 0.5, 36000.0), (1, 0.0, 4.0), (2, 0.999999, 360.0)],
)
def test_delays_follow_the_schedule_within_the_jitter(failed: int, rand: float, delay: float):
    assert RetryPolicy().next_delay(failed, rand) == pytest.approx(delay, rel=1e-5)


def test_after_the_last_pause_the_delivery_is_given_up() -> None:
    assert RetryPolicy(schedule=(1.0, 2.0)).next_delay(3, 0.5) is None


@pytest.mark.parametrize(
    "options", [{"schedule": (-1.0,)}, {"jitter": 1.0}, {"jitter": -0.1}, {"disable_after": 0}]
)
def test_nonsense_is_refused(options: dict) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**options)
