"""When a failed delivery is tried again, and when an endpoint is given up on.

The schedule lists the pause after each failed attempt; each pause is spread
by a random jitter so that deliveries failing together do not come back
together. The default follows Svix: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
(eight attempts over about 28 hours). An endpoint failing every attempt for
`disable_after` seconds (default five days) is disabled, as is one that
answers 410 Gone.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)


@dataclass(frozen=True)
class RetryPolicy:
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    jitter: float = 0.2
    disable_after: float = 5 * 86400.0

    def __post_init__(self) -> None:
        if any(pause < 0 for pause in self.schedule):
            raise ValueError("retry pauses are not negative")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction from 0 up to 1")
        if self.disable_after <= 0:
            raise ValueError("disable_after is positive")

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def next_delay(self, failed_attempts: int, rand: float) -> float | None:
        """Seconds until the next attempt after ``failed_attempts`` failures, or None
        when the schedule is exhausted; ``rand`` is uniform in [0, 1)."""
        if failed_attempts < 1:
            raise ValueError("a delay follows a failed attempt")
        if failed_attempts > len(self.schedule):
            return None
        pause = self.schedule[failed_attempts - 1]
        return pause * (1 + self.jitter * (2 * rand - 1))
