"""What browsers need: protective headers on every response, and CORS for the
origins a configuration allows.

- `X-Content-Type-Options: nosniff` everywhere: a JSON body is never run as script.
- `X-Frame-Options: DENY` and `Content-Security-Policy: frame-ancestors 'none'`:
  no page (the docs, where client secrets are typed) can be framed by another site.
- `Cache-Control: private, no-store` on responses to requests carrying credentials,
  unless the view set its own (resources with `cache:`): a personal answer is never
  kept by a shared cache or left on disk.
- CORS (flask-cors) on `/vN/...` for each version's allowed origins: preflights
  accept `Authorization` and the API key header; responses vary on `Origin` and
  expose the headers a client needs (`Link`, `ETag`, the rate-limit fields).
"""

from __future__ import annotations

import re
from collections.abc import Collection

from flask import Flask, Response, request
from flask_cors import CORS

from wrapper.config import Config

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
EXPOSED_HEADERS = ("Link", "ETag", "RateLimit", "RateLimit-Policy", "Retry-After")
PERSONAL = "private, no-store"


def init_browser(
    app: Flask, config: Config, versions: Collection[str], api_key_header: str
) -> None:
    credential_headers = ("Authorization", api_key_header)
    cors_versions = [v for v in versions if config.version_cors(v).origins]
    cors_paths = tuple(f"/{v}/" for v in cors_versions)

    @app.after_request
    def protective_headers(response: Response) -> Response:
        headers = response.headers
        present = {name.lower() for name, _ in headers}  # one pass, not one per name
        headers.extend([(n, v) for n, v in SECURITY_HEADERS.items() if n.lower() not in present])
        if "cache-control" not in present and any(h in request.headers for h in credential_headers):
            headers["Cache-Control"] = PERSONAL
        if cors_paths and request.path.startswith(cors_paths):
            response.vary.add("Origin")  # with or without an allowed Origin, for caches
        return response

    resources = {}
    for version in cors_versions:
        cors = config.version_cors(version)
        resources[rf"/{version}/.*"] = {
            # exact, case-insensitive matches (flask-cors would read `[::1]` as a regex)
            "origins": [re.compile(re.escape(o) + r"\Z", re.IGNORECASE) for o in cors.origins],
            "max_age": cors.max_age,
        }
    if resources:
        CORS(
            app,
            resources=resources,
            methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=[*credential_headers, "If-None-Match"],
            expose_headers=list(EXPOSED_HEADERS),
            supports_credentials=False,  # bearer tokens and API keys, never cookies
            vary_header=True,
        )
