"""HTTP endpoints generated from the mapping: one flask-smorest Api per version,
one Blueprint per resource.

A view identifies and authorizes the caller, then hands the read path
(`read.py`: parse, plan, execute, render) to `Respond`
(`wrapper.caching.Responder`), which encodes the result once with orjson, adds
the ETag and serves it through the shared cache when the resource opts in. The
marshmallow schemas attached with `@blp.response` only document the responses.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request
from flask_smorest import Api, Blueprint
from werkzeug.routing import PathConverter

from wrapper.access import Access
from wrapper.config import PagingConfig
from wrapper.mapping.model import Resource, VersionMapping
from wrapper.openapi import (
    PROBLEM_SCHEMA,
    build_schemas,
    item_parameters,
    list_parameters,
    operation_security,
    page_schema,
    security_schemes,
)
from wrapper.problems import PROBLEM_JSON
from wrapper.read import Body, ReadPath

SWAGGER_UI_ASSETS = "/_assets/swagger-ui/"


class VersionApi(Api):
    """One API version: its own OpenAPI document and docs page.

    The stock error responses and offset-pagination header of flask-smorest are
    not registered: every operation documents its own problem+json responses,
    and paging is by cursor.
    """

    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_responses(self) -> None:
        pass

    def _register_pagination_header(self) -> None:
        pass


class ItemKeyConverter(PathConverter):
    """An item's key in the URL: anything after the resource's slash, slashes
    included, even a leading one (a key `/LEADING` is `.../%2FLEADING`, which the
    server decodes to `...//LEADING` before routing)."""

    regex = ".+"
    part_isolating = False  # it spans path segments


Authorize = Callable[[Resource, str], Access]  # (resource, "list" | "item") -> Access
Respond = Callable[[Resource, Access, Callable[[], Body]], Response]


def register_version(
    app: Flask,
    version: VersionMapping,
    read: ReadPath,
    paging: PagingConfig,
    authorize: Authorize,
    respond: Respond,
    api_key_header: str = "X-API-Key",
    public_url: str | None = None,
) -> Api:
    """`public_url` starts the links of this version's responses (`Link: rel="next"`);
    without it they are relative references, never built from the request's Host."""
    prefix = version.name.upper()
    app.url_map.converters["item_key"] = ItemKeyConverter
    app.config.update(
        {
            f"{prefix}_API_TITLE": version.title,
            f"{prefix}_API_VERSION": version.name,
            f"{prefix}_OPENAPI_VERSION": "3.1.0",
            f"{prefix}_OPENAPI_URL_PREFIX": f"/{version.name}",
            f"{prefix}_OPENAPI_JSON_PATH": "openapi.json",
            f"{prefix}_OPENAPI_SWAGGER_UI_PATH": "docs",
            f"{prefix}_OPENAPI_SWAGGER_UI_URL": SWAGGER_UI_ASSETS,
        }
    )
    spec_kwargs: dict[str, Any] = {}
    if version.description:
        spec_kwargs["info"] = {"description": version.description}
    api = VersionApi(config_prefix=prefix, spec_kwargs=spec_kwargs)
    api.init_app(app)
    api.spec.components.schema("Problem", PROBLEM_SCHEMA)
    for name, scheme in security_schemes(version, api_key_header).items():
        api.spec.components.security_scheme(name, scheme)
    schemas = build_schemas(version)
    for resource in version.resources.values():
        blueprint = _blueprint(
            resource, schemas[resource.name], read, paging, authorize, respond, public_url
        )
        api.register_blueprint(blueprint)
        for endpoint in ("list", "item"):
            name = f"{blueprint.name}.{endpoint}"
            if name in app.view_functions:
                # flask-smorest's decorators only document here (views return a
                # Response, which they pass through): skip their wrappers at run time.
                app.view_functions[name] = inspect.unwrap(app.view_functions[name])
        item = app.view_functions.get(f"{blueprint.name}.item")
        if item is not None:
            # A key rendered as "" (an all-blank CHAR key) is reached at `.../{resource}/`
            # (or `/%20`), not by the list: one more rule, not in the documents.
            app.add_url_rule(
                f"/{version.name}/{resource.name}/",
                endpoint=f"{blueprint.name}.item_blank",
                view_func=item,
                defaults={"key": ""},
            )
    return api


def _problems(blp: Blueprint, *statuses: int):  # type: ignore[no-untyped-def]
    def decorate(func):  # type: ignore[no-untyped-def]
        for status in statuses:
            func = blp.alt_response(status, schema="Problem", content_type=PROBLEM_JSON)(func)
        return func

    return decorate


def _blueprint(
    resource: Resource,
    item_schema: Any,
    read: ReadPath,
    paging: PagingConfig,
    authorize: Authorize,
    respond: Respond,
    public_url: str | None,
) -> Blueprint:
    blp = Blueprint(
        f"{resource.version}-{resource.name}",
        __name__,
        url_prefix=f"/{resource.version}/{resource.name}",
        description=resource.description or f"{resource.name} (legacy {resource.table})",
    )

    @blp.route("", endpoint="list")
    @blp.doc(
        summary=f"List {resource.name}",
        operationId=f"{resource.version}_list_{resource.name}",
        parameters=list_parameters(resource, paging),
        **operation_security(resource, "list"),
    )
    @blp.response(200, page_schema(resource, item_schema))
    @_problems(blp, 400, 401, 403, 429, 503)
    def list_view() -> Response:
        access = authorize(resource, "list")  # identify and authorize
        base = public_url or request.script_root
        return respond(  # a cache hit skips the read path (parse, plan, execute, render)
            resource,
            access,
            lambda: read.list(resource, access, request.args, base, request.path),
        )

    if resource.key:
        # `path`: a key may hold `/` (sent as %2F, which servers decode before routing).
        @blp.route("/<item_key:key>", endpoint="item", merge_slashes=False)
        @blp.doc(
            summary=f"Get one {resource.name} item by key",
            operationId=f"{resource.version}_get_{resource.name}",
            parameters=item_parameters(resource),
            **operation_security(resource, "item"),
        )
        @blp.response(200, item_schema)
        @_problems(blp, 400, 401, 403, 404, 429, 503)
        def item_view(key: str) -> Response:
            access = authorize(resource, "item")
            return respond(resource, access, lambda: read.item(resource, access, key, request.args))

    return blp
