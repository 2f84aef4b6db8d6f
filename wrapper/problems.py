"""RFC 9457 problem details: every error the API returns, produced in one place.

Each error family is an exception class with a stable `type`; handlers turn
them (and Werkzeug's HTTP errors, and source errors) into
`application/problem+json`. No handler ever puts a stack trace or SQL text in
a response.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from legacy_adapters.base import (
    QueryRejected,
    SourceBusy,
    SourceError,
    SourceTimeout,
    SourceUnavailable,
    UnsupportedQuery,
)
from wrapper.events.errors import EventsError, InvalidSubscription, TargetRefused
from wrapper.events.errors import NotFound as EventNotFound

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "/problems/"
log = logging.getLogger(__name__)


class Problem(Exception):
    """Base of the API's errors; subclasses fix status, type and title."""

    status = 500
    slug = "internal-error"
    title = "Internal error"

    def __init__(
        self, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions

    def body(self) -> dict[str, Any]:
        return {
            "type": TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extensions,
        }


class InvalidParameter(Problem):
    """A query parameter, path segment or cursor the API cannot use."""

    status = 400
    slug = "invalid-parameter"
    title = "Invalid request parameter"

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(detail, parameter=parameter)


class InvalidField(Problem):
    """A field of a request body the API cannot use (`field` names it)."""

    status = 400
    slug = "invalid-field"
    title = "Invalid field in the request body"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, field=field)


class ResourceNotFound(Problem):
    status = 404
    slug = "not-found"
    title = "Not found"


class Unauthorized(Problem):
    """Missing or invalid credentials (RFC 6750 section 3): 401 with a Bearer challenge."""

    status = 401
    slug = "unauthorized"
    title = "Authentication required"

    def __init__(self, detail: str, *, error: str | None = "invalid_token") -> None:
        challenge = 'Bearer realm="legacy-wrapper"'
        if error:
            challenge += f', error="{error}", error_description="{_quoted(detail)}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class InsufficientScope(Problem):
    """Valid credentials without the scope an operation needs (RFC 6750 section 3.1)."""

    status = 403
    slug = "insufficient-scope"
    title = "Insufficient scope"

    def __init__(self, detail: str, scopes: tuple[str, ...]) -> None:
        scope = " ".join(scopes)
        challenge = f'Bearer realm="legacy-wrapper", error="insufficient_scope", scope="{scope}"'
        super().__init__(
            detail, headers={"WWW-Authenticate": challenge}, required_scope=scope or None
        )


class Forbidden(Problem):
    """Valid credentials that lack what a row rule needs (a claim)."""

    status = 403
    slug = "forbidden"
    title = "Forbidden"


class SourceUnavailableProblem(Problem):
    status = 503
    slug = "legacy-unavailable"
    title = "Legacy source unavailable"


class RateLimited(Problem):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class SourceBusyProblem(SourceUnavailableProblem):
    slug = "legacy-busy"
    title = "Legacy source busy"


class SourceTimeoutProblem(SourceUnavailableProblem):
    slug = "legacy-timeout"
    title = "Legacy source too slow"


class QueryRejectedProblem(Problem):
    slug = "legacy-rejected"
    title = "Legacy source refused the query"


PROBLEM_TYPES: dict[str, str] = {
    cls.slug: cls.title
    for cls in (
        Problem,
        InvalidParameter,
        InvalidField,
        ResourceNotFound,
        Unauthorized,
        InsufficientScope,
        Forbidden,
        SourceUnavailableProblem,
        RateLimited,
        SourceBusyProblem,
        SourceTimeoutProblem,
        QueryRejectedProblem,
    )
}
PROBLEM_TYPES["unsupported-query"] = "Query not supported by the legacy source"


def _quoted(text: str) -> str:
    """A quoted-string value for a challenge: no quotes, backslashes or control characters."""
    return "".join(c for c in text if c >= " " and c not in '"\\')


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    body.setdefault("instance", request.path)
    response = Response(orjson.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_problem(err: Problem) -> Response:
    return problem_response(err.status, err.body(), err.headers)


def handle_http_exception(err: HTTPException) -> Response:
    """Werkzeug's errors (404 route, 405 method ...) as problems, keeping their headers
    such as `Allow` on 405 (RFC 9110)."""
    status = err.code or 500
    body = {"type": "about:blank", "title": err.name, "status": status}
    if status == 404:
        body["detail"] = f"no resource at {request.path}"
    elif status == 405:
        body["detail"] = f"method {request.method} is not allowed here"
    elif err.description and status < 500:
        body["detail"] = err.description
    headers = {
        k: v for k, v in err.get_headers() if k.lower() not in ("content-type", "content-length")
    }
    return problem_response(status, body, headers)


def handle_source_error(err: SourceError) -> Response:
    if isinstance(err, UnsupportedQuery):
        body = {
            "type": TYPE_BASE + "unsupported-query",
            "title": PROBLEM_TYPES["unsupported-query"],
            "status": 400,
            "detail": str(err),
        }
        return problem_response(400, body)
    if isinstance(err, SourceBusy):
        log.warning("legacy source busy: %s", err)
        detail = "too many requests are reading the legacy database right now"
        return handle_problem(SourceBusyProblem(detail, headers={"Retry-After": "1"}))
    if isinstance(err, SourceTimeout):
        log.warning("legacy source timeout: %s", err)
        detail = "the legacy database did not answer in time"
        return handle_problem(SourceTimeoutProblem(detail, headers={"Retry-After": "5"}))
    if isinstance(err, SourceUnavailable):
        log.warning("legacy source unavailable: %s", err)
        detail = "the legacy database cannot be reached right now"
        return handle_problem(SourceUnavailableProblem(detail, headers={"Retry-After": "5"}))
    if isinstance(err, QueryRejected):
        # The driver's error (statement included) goes to the log, never to the caller.
        log.error("legacy source refused a query: %s", err, exc_info=err)
        detail = "the legacy database refused the query for this request; it has been logged"
        return handle_problem(QueryRejectedProblem(detail))
    log.error("legacy source error: %s", err, exc_info=err)
    return handle_problem(Problem("the legacy source failed to answer this request"))


def handle_events_error(err: EventsError) -> Response:
    """The subscriptions store's errors (`wrapper/events/errors.py`)."""
    if isinstance(err, InvalidSubscription):
        return handle_problem(InvalidField(err.field, f"{err.field}: {err.detail}"))
    if isinstance(err, TargetRefused):
        return handle_problem(InvalidField("url", f"url: {err}"))
    if isinstance(err, EventNotFound):
        return handle_problem(ResourceNotFound(str(err)))
    return handle_unexpected(err)


def handle_unexpected(err: Exception) -> Response:
    log.exception("unhandled error", exc_info=err)
    return handle_problem(Problem("an unexpected error occurred; it has been logged"))


def register_problem_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, handle_problem)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(SourceError, handle_source_error)
    app.register_error_handler(EventsError, handle_events_error)
    app.register_error_handler(Exception, handle_unexpected)
