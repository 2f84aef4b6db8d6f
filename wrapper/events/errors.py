"""Errors of the events package; the HTTP layer maps each to one problem type."""

from __future__ import annotations


class EventsError(Exception):
    """Base of the errors below."""


class InvalidSubscription(EventsError):
    """A subscription field that cannot be used; `field` names it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


class TargetRefused(EventsError):
    """A target URL that may not be reached (a blocked address, a bad scheme)."""


class NotFound(EventsError):
    """No such subscription, event or delivery."""
