"""Resource reads answered without Flask's request machinery.

Per request, Flask and werkzeug cost about as much CPU as the wrapper's whole
read path: a request and an app context, URL routing, `request.args`, a
`Response` object and its header bookkeeping, the after-request hooks.
`DirectReads` is WSGI middleware in front of the Flask app (`app.wsgi_app`)
that answers the hot requests itself with the steps the views take
(identify → authorize → parse → plan → execute → render → respond, the same
functions) and the same headers the hooks add (`browser.py`):

- a `GET` of `/{version}/{resource}` or `/{version}/{resource}/{key}`,
- with an ASCII path and query string (werkzeug's decoding is then the
  identity; anything else is left to werkzeug),
- without an `Origin` header (CORS answers come from flask-cors),
- while rate limits are off (flask-limiter counts in Flask's request hooks).

Every other request goes to Flask unchanged, and so does every error: the
exception is handed to Flask's error handlers in a request context, so each
problem response still comes from `problems.py` with its hooks applied.
`tests/wrapper/test_direct.py` holds both paths to byte-identical answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from wrapper.access import Access
from wrapper.browser import PERSONAL, SECURITY_HEADERS
from wrapper.caching import Responder
from wrapper.conditional import conditional
from wrapper.mapping.model import Mapping, Resource
from wrapper.read import ReadPath

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# (resource, "list" | "item", environ) -> Access; raises the views' problems
AuthorizeEnviron = Callable[[Resource, str, dict[str, Any]], Access]
STATUS_LINES = {200: "200 OK", 304: "304 NOT MODIFIED"}  # werkzeug's wording


def environ_name(header: str) -> str:
    """The WSGI environ key of a request header (`X-API-Key` -> `HTTP_X_API_KEY`)."""
    return "HTTP_" + header.upper().replace("-", "_")


class DirectReads:
    def __init__(
        self,
        app: Flask,
        mapping: Mapping,
        read: ReadPath,
        respond: Responder,
        authorize: AuthorizeEnviron,
        *,
        credential_keys: tuple[str, str],
        public_urls: dict[str, str | None],
        cors_versions: frozenset[str],
    ) -> None:
        self.app = app
        self.flask: WSGIApp = app.wsgi_app  # everything not answered here
        self.read = read
        self.respond = respond
        self.authorize = authorize
        self.credential_keys = credential_keys  # WSGI names of Authorization and the API key
        self.lists: dict[str, Resource] = {}
        self.items: dict[str, Resource] = {}  # by "/{version}/{resource}/"
        self.public_urls = public_urls
        # what `browser.protective_headers` adds after a view, by version and by whether
        # the response is personal (credentials sent, no Cache-Control of the view's)
        self.tails: dict[tuple[str, bool], tuple[tuple[str, str], ...]] = {}
        for name in mapping.versions:
            vary = (("Vary", "Origin"),) if name in cors_versions else ()
            for personal in (False, True):
                control = (("Cache-Control", PERSONAL),) if personal else ()
                self.tails[(name, personal)] = (*SECURITY_HEADERS.items(), *control, *vary)
        for version in mapping.versions.values():
            for resource in version.resources.values():
                path = f"/{version.name}/{resource.name}"
                self.lists[path] = resource
                if resource.key:
                    self.items[path + "/"] = resource

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        if (
            environ["REQUEST_METHOD"] != "GET"
            or "HTTP_ORIGIN" in environ
            or not (path.isascii() and query.isascii())
            or not path.startswith("/")
        ):
            return self.flask(environ, start_response)
        resource = self.lists.get(path)
        key: str | None = None
        if resource is None:
            cut = path.find("/", path.find("/", 1) + 1)  # the slash after the resource
            if cut < 0 or path.startswith("//"):
                return self.flask(environ, start_response)
            resource = self.items.get(path[: cut + 1])
            if resource is None:
                return self.flask(environ, start_response)
            key = path[cut + 1 :]
        try:
            return self._read(environ, start_response, resource, path, query, key)
        except Exception as err:  # every error is answered by Flask's handlers
            return self._flask_error(environ, start_response, err)

    def _read(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        resource: Resource,
        path: str,
        query: str,
        key: str | None,
    ) -> list[bytes]:
        read = self.read
        if key is None:
            access = self.authorize(resource, "list", environ)
            script_root = environ.get("SCRIPT_NAME", "").rstrip("/")
            base = self.public_urls.get(resource.version) or script_root
            entity, control = self.respond.entity(
                environ,
                resource,
                access,
                lambda: read.list_query(resource, access, query, base, path),
            )
        else:
            item_key = key
            access = self.authorize(resource, "item", environ)
            entity, control = self.respond.entity(
                environ,
                resource,
                access,
                lambda: read.item_query(resource, access, item_key, query),
            )
        code, headers, body = conditional(entity, control, environ.get("HTTP_IF_NONE_MATCH"))
        if code == 304:
            self.respond.metrics.not_modified.inc()
        else:
            headers.append(("Content-Length", str(len(body))))
        keys = self.credential_keys
        personal = not control and (keys[0] in environ or keys[1] in environ)
        headers += self.tails[(resource.version, personal)]
        start_response(STATUS_LINES[code], headers)
        return [body]

    def _flask_error(
        self, environ: dict[str, Any], start_response: Callable[..., Any], err: Exception
    ) -> Any:
        """The problem response Flask's handlers give `err`, after-request hooks included."""
        app = self.app
        with app.request_context(environ):
            try:
                response = app.finalize_request(app.handle_user_exception(err))
            except Exception as unexpected:
                response = app.finalize_request(app.handle_exception(unexpected))
            return response(environ, start_response)
