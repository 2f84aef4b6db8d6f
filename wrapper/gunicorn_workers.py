"""gunicorn workers whose own error answers are problem+json.

gunicorn refuses some requests before the app sees them (a malformed request
line, a request line or header over its limits, a transfer coding it does not
implement) and answers them with an HTML page. These workers answer them like
every other error of the API: RFC 9457 `application/problem+json` with the
status gunicorn chose (400, 414, 431, ...) and what was wrong.
"""

from __future__ import annotations

from typing import Any

import orjson
from gunicorn import util
from gunicorn.http import errors
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

# (error, status, title), first match wins; any other parse error is a 400, anything
# else (including a header the app tried to send) a 500.
_STATUSES: tuple[tuple[type[BaseException], int, str], ...] = (
    (errors.InvalidResponseHeader, 500, "Internal Server Error"),
    (errors.InvalidResponseHeaderName, 500, "Internal Server Error"),
    (errors.ConfigurationProblem, 500, "Internal Server Error"),
    (errors.LimitRequestLine, 414, "URI Too Long"),
    (errors.LimitRequestHeaders, 431, "Request Header Fields Too Large"),
    (errors.UnsupportedTransferCoding, 501, "Not Implemented"),
    (errors.ExpectationFailed, 417, "Expectation Failed"),
    (errors.ForbiddenProxyRequest, 403, "Forbidden"),
    (errors.ParseException, 400, "Bad Request"),
)
_DETAIL_LENGTH = 200  # gunicorn's messages quote what the client sent


def problem_answer(exc: BaseException) -> tuple[int, bytes]:
    """The status and the whole HTTP answer for an error gunicorn handles itself."""
    status, title = 500, "Internal Server Error"
    for error, code, name in _STATUSES:
        if isinstance(exc, error):
            status, title = code, name
            break
    detail = str(exc)[:_DETAIL_LENGTH] if status < 500 else "the server could not handle this"
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    head = (
        f"HTTP/1.1 {status} {title}\r\nConnection: close\r\n"
        f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return status, head.encode("latin-1") + body


class _ProblemErrors:
    log: Any

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        status, answer = problem_answer(exc)
        if status >= 500:
            self.log.exception("Error handling request")
        else:
            self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            util.write_nonblock(client, answer)
        except Exception:
            self.log.debug("Failed to send error message.")


class ProblemSyncWorker(_ProblemErrors, SyncWorker):
    """gunicorn's sync worker (one request at a time; behind a buffering proxy)."""


class ProblemThreadWorker(_ProblemErrors, ThreadWorker):
    """gunicorn's gthread worker."""
