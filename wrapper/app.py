"""The app factory: the only place where the wrapper is wired together."""

from __future__ import annotations

from collections.abc import Mapping as MappingOf
from dataclasses import dataclass

import swagger_ui_bundle
from flask import Flask, Response, send_from_directory, url_for
from flask_limiter import Limiter

from legacy_adapters.base import Schema, Source
from legacy_adapters.bulkhead import Bulkhead
from wrapper.access import EVERYTHING, Access
from wrapper.auth.principal import Principal
from wrapper.browser import init_browser
from wrapper.caching import Responder, open_store
from wrapper.config import Config, ConfigError
from wrapper.cursor_keys import KeyRing
from wrapper.direct import AuthorizeEnviron, DirectReads, environ_name
from wrapper.health import health_blueprint, source_states
from wrapper.limits import Identify, init_limits
from wrapper.mapping.model import Mapping, Resource, build_mapping
from wrapper.metrics import Metrics, metrics_blueprint
from wrapper.pagination import Cursors
from wrapper.problems import PROBLEM_TYPES, ResourceNotFound, register_problem_handlers
from wrapper.read import ReadPath
from wrapper.reader import Reader
from wrapper.resources import SWAGGER_UI_ASSETS, Authorize, register_version
from wrapper.responses import json_response
from wrapper.schema_cache import load_schema
from wrapper.sources import open_source
from wrapper.state.store import StateStore
from wrapper.translate import Planner
from wrapper.webhooks import Webhooks, open_webhooks
from wrapper.webhooks.views import register_webhooks

MAX_REQUEST_BODY = 64 * 1024  # bytes


@dataclass(frozen=True)
class WrapperState:
    """What a running app holds; reachable as `app.extensions["legacy_wrapper"]`."""

    config: Config
    sources: dict[str, Source]  # by the configuration's source names, each behind a bulkhead
    schemas: dict[str, Schema]
    mapping: Mapping
    read: ReadPath
    metrics: Metrics
    respond: Responder  # shared cache, ETags and 304s for read views
    limiter: Limiter | None
    state: StateStore  # the wrapper's own database (auth, cursor keys)
    webhooks: Webhooks | None = None  # the subscriptions API (events tables in `state`)

    @property
    def source(self) -> Source:
        """The source of a configuration that has only one."""
        (only,) = self.sources.values()
        return only

    def close(self) -> None:
        for source in self.sources.values():
            source.close()
        self.state.close()
        if self.webhooks is not None:
            self.webhooks.close()


def create_app(
    config: Config,
    *,
    sources: MappingOf[str, Source] | None = None,
    no_auth: bool = False,
    identify: Identify | None = None,
    threads: int | None = None,
) -> Flask:
    """Reflect the mapped tables once, check the mapping, and build the app.

    Every request to a resource is authenticated and authorized per the config's
    `auth:` section; `no_auth=True` (the CLI's loopback-only `--no-auth`) serves
    every row to everyone instead. `sources` (by name) replace the configured
    ones; each is wrapped in a bulkhead (`max_concurrent`; by default fewer
    than `threads`, the server's threads a worker, when given). Rate limits key
    on the caller that `identify` names (default: the authenticated client, else
    the client IP).

    Raises `ConfigError` (every problem with its location) when the mapping does
    not fit the legacy schema or there is no `auth:` section without `no_auth`,
    and `SourceError` when a source is unreachable and no saved copy of its
    schema exists (`wrapper.schema_cache`).
    """
    if config.auth is None and not no_auth:
        raise ConfigError(
            [f"{config.filename}: no `auth:` section; configure authentication or use --no-auth"]
        )
    metrics = Metrics()
    given = dict(sources or {})
    guarded: dict[str, Source] = {}
    schemas: dict[str, Schema] = {}
    for name, sc in config.sources.items():
        raw = given.get(name) or open_source(sc)
        size = sc.bulkhead_size_under(threads)
        guarded[name] = Bulkhead(raw, size, sc.bulkhead_wait, metrics, sc.busy_after)
        schemas[name] = load_schema(guarded[name], config, name)  # or its saved copy
    mapping = build_mapping(config, schemas)
    metrics.watch_sources(lambda: source_states(guarded))
    state = StateStore(config.state.url)
    cursors = Cursors(KeyRing(state))
    column_types = {
        t.ref: {c.name: c.python_type for c in t.columns}
        for schema in schemas.values()
        for t in schema.tables
    }
    read = ReadPath(
        Planner(mapping, cursors, column_types), Reader(guarded, cursors), config.paging
    )
    cache = open_store(config.cache.storage, config.cache.key_prefix, config.cache.wait)
    respond = Responder(mapping, cache, metrics)

    app = Flask("wrapper")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Request bodies (webhook subscriptions, token requests) are small; a larger one
    # is refused with 413 before it is read, not parsed and then refused.
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BODY
    authorize: Authorize = allow_everything
    authorize_environ: AuthorizeEnviron = allow_everything_environ
    caller: Identify = identify or anonymous
    authenticate: Identify = anonymous  # who owns webhook subscriptions
    policy = None
    if config.auth is not None and not no_auth:
        from wrapper.auth.guard import setup_auth

        guard = setup_auth(app, config.auth, mapping, state, config.limits)
        authorize = guard.authorize
        authorize_environ = guard.authorize_environ
        caller = identify or guard.identify
        authenticate, policy = guard.authenticate, guard.policy
    webhooks = open_webhooks(config, mapping, authenticate, policy)
    limiter = None
    if config.limits.enabled:
        limiter = init_limits(app, config.limits, caller, metrics)
    app.extensions["legacy_wrapper"] = WrapperState(
        config, guarded, schemas, mapping, read, metrics, respond, limiter, state, webhooks
    )
    header = config.auth.api_key_header if config.auth else "X-API-Key"
    for version in mapping.versions.values():
        public_url = config.version_public_url(version.name)
        api = register_version(
            app, version, read, config.paging, authorize, respond, header, public_url
        )
        register_webhooks(app, api, version.name, webhooks)
    init_browser(app, config, mapping.versions, header)
    app.register_blueprint(health_blueprint(guarded))
    app.register_blueprint(metrics_blueprint(metrics))
    _register_site(app, mapping)
    register_problem_handlers(app)
    if limiter is None:  # flask-limiter counts in Flask's request hooks
        app.wsgi_app = DirectReads(  # type: ignore[method-assign]
            app,
            mapping,
            read,
            respond,
            authorize_environ,
            credential_keys=(environ_name("Authorization"), environ_name(header)),
            public_urls={v: config.version_public_url(v) for v in mapping.versions},
            cors_versions=frozenset(v for v in mapping.versions if config.version_cors(v).origins),
        )
    return app


def anonymous() -> Principal | None:
    """Who is calling, while serving with --no-auth: nobody in particular."""
    return None


def allow_everything(_resource: Resource, _operation: str) -> Access:
    """Authorization while serving with --no-auth (loopback only)."""
    return EVERYTHING


def allow_everything_environ(_resource: Resource, _operation: str, _environ: dict) -> Access:
    return EVERYTHING


def _register_site(app: Flask, mapping: Mapping) -> None:
    assets = swagger_ui_bundle.swagger_ui_path

    @app.get(SWAGGER_UI_ASSETS + "<path:filename>")
    def swagger_ui_asset(filename: str) -> Response:
        return send_from_directory(assets, filename, max_age=86400)

    @app.get("/")
    def index() -> Response:
        return json_response(
            {
                "versions": {
                    name: {
                        "resources": sorted(v.resources),
                        "openapi": url_for(f"{name}-api-docs.openapi_json"),
                        "docs": url_for(f"{name}-api-docs.openapi_swagger_ui"),
                    }
                    for name, v in mapping.versions.items()
                }
            }
        )

    @app.get("/problems/<slug>")
    def problem_type(slug: str) -> Response:
        if slug not in PROBLEM_TYPES:
            raise ResourceNotFound(f"no problem type {slug!r}")
        return json_response({"type": f"/problems/{slug}", "title": PROBLEM_TYPES[slug]})
