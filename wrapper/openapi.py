"""OpenAPI description of the mapped resources: marshmallow schemas and parameters.

The schemas describe exactly what the row renderers produce (a test validates
real responses against them); they are used for the document, not to serialize
rows on the hot path.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from wrapper.config import PagingConfig
from wrapper.mapping.model import Field, Resource, VersionMapping
from wrapper.operators import OPERATORS


def schema_name(resource: Resource) -> str:
    camel = "".join(part.capitalize() for part in resource.name.split("_"))
    return f"{resource.version.upper()}{camel}"


def _ma_field(field: Field) -> ma.fields.Field:
    """The field as documented: exactly the converter's JSON schema (type, format,
    pattern, enum ...), null allowed where the column or a sentinel allows it."""
    metadata: dict[str, Any] = dict(field.converter.json_schema())
    if field.description:
        metadata["description"] = field.description
    if field.nullable and "enum" in metadata:
        metadata["enum"] = [*metadata["enum"], None]
    if "type" not in metadata:  # any JSON value, null included
        return ma.fields.Raw(allow_none=True, metadata=metadata)
    return ma.fields.Raw(allow_none=field.nullable, metadata=metadata)


def build_schemas(version: VersionMapping) -> dict[str, type[ma.Schema]]:
    """One marshmallow schema per resource, relations as optional nested fields."""
    schemas: dict[str, type[ma.Schema]] = {}
    for res in version.resources.values():
        attrs: dict[str, Any] = {f.name: _ma_field(f) for f in res.fields}
        for rel in res.relations:
            target = version.resources[rel.target]

            def nested(_t: str = target.name) -> type[ma.Schema]:
                return schemas[_t]

            desc = f"the related {target.name}; present only with expand={rel.name}"
            if rel.many:
                attrs[rel.name] = ma.fields.List(
                    ma.fields.Nested(nested), metadata={"description": desc}
                )
            else:
                attrs[rel.name] = ma.fields.Nested(
                    nested, allow_none=True, metadata={"description": desc}
                )
        attrs["Meta"] = type("Meta", (), {"ordered": True})
        schemas[res.name] = type(schema_name(res), (ma.Schema,), attrs)
    return schemas


def page_schema(resource: Resource, item: type[ma.Schema]) -> type[ma.Schema]:
    attrs = {
        "data": ma.fields.List(ma.fields.Nested(item), required=True),
        "next_cursor": ma.fields.String(
            required=True,
            allow_none=True,
            metadata={"description": "pass as `cursor` for the next page; null on the last"},
        ),
        "total_count": ma.fields.Integer(
            metadata={"description": "rows matching the filters; only with `count`"}
        ),
        "total_count_exact": ma.fields.Boolean(
            metadata={"description": "false when total_count is the database's estimate"}
        ),
    }
    return type(f"{schema_name(resource)}Page", (ma.Schema,), attrs)


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": False, "description": description,
            "schema": schema}  # fmt: skip


def _list_param(
    name: str, description: str, items: dict[str, Any], *, unique: bool = False
) -> dict[str, Any]:
    """A comma-separated list (`?fields=a,b`): OpenAPI's form style without explode."""
    schema: dict[str, Any] = {"type": "array", "items": items, "minItems": 1}
    if unique:
        schema["uniqueItems"] = True
    return {**_param(name, description, schema), "style": "form", "explode": False}


_INT64 = {"minimum": -(2**63), "maximum": 2**63 - 1}


def _value_schema(f: Field) -> dict[str, Any]:
    """What a filter value may be: a CHAR(n) field takes at most n characters."""
    schema = dict(f.converter.json_schema())
    if schema.get("type") == "integer":
        schema.update(_INT64)
    return schema


def list_parameters(resource: Resource, paging: PagingConfig) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for f in resource.fields:
        if not f.filter_ops:
            continue
        value_schema = _value_schema(f)
        for op in sorted(f.filter_ops):
            operator = OPERATORS[op]
            name = f.name if op == "eq" else f"{f.name}[{op}]"
            desc = operator.doc.format(field=f.name)
            if operator.takes == "list":
                params.append(_list_param(name, desc, value_schema))
                continue
            if operator.takes == "flag":
                schema = {"type": "boolean"}
            elif not operator.converts:  # a pattern, written as text
                schema = {"type": "string"}
            else:
                schema = value_schema
            params.append(_param(name, desc, schema))
    sortable = [f.name for f in resource.fields if f.sortable]
    if sortable:
        params.append(
            _list_param(
                "sort",
                "comma-separated fields, - for descending (a field's first mention counts)",
                {"type": "string", "enum": [p + n for n in sortable for p in ("", "-")]},
            )
        )
    params += [
        _fields_param(resource),
        _param(
            "limit",
            f"rows per page (default {paging.default_limit})",
            {"type": "integer", "minimum": 1, "maximum": paging.max_limit},
        ),
        _param(
            "cursor",
            "next_cursor of the previous page, as given",
            {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
        ),
        _param(
            "count",
            "add total_count: exact, or the database's estimate",
            {"type": "string", "enum": ["exact", "estimate"]},
        ),
    ]
    params += _expand_param(resource)
    return params


def _fields_param(resource: Resource) -> dict[str, Any]:
    names = [f.name for f in resource.fields]
    items = {"type": "string", "enum": names}
    return _list_param("fields", "comma-separated fields to return", items, unique=True)


def _expand_param(resource: Resource) -> list[dict[str, Any]]:
    if not resource.relations:
        return []
    names = [r.name for r in resource.relations]
    items = {"type": "string", "enum": names}
    return [_list_param("expand", "comma-separated relations to embed", items)]


def item_parameters(resource: Resource) -> list[dict[str, Any]]:
    key_form = ",".join("{" + k + "}" for k in resource.key)
    key_desc = (
        f"the key, in the form {key_form}"
        if len(resource.key) > 1
        else f"the {resource.key[0]} of the {resource.name} item"
    )
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if len(resource.key) > 1:  # a single key is the whole text, commas and slashes included
        schema["pattern"] = "^" + ",".join(["[^,]*"] * len(resource.key)) + "$"
    return [
        {
            "in": "path",
            "name": "key",
            "required": True,
            "description": key_desc,
            "schema": schema,
        },
        _fields_param(resource),
        *_expand_param(resource),
    ]


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "parameter": {"type": "string", "description": "the offending parameter"},
    },
    "required": ["type", "title", "status"],
}


# ---------------------------------------------------------------------------- security

SECURITY_SCHEMES = ("oauth2", "bearerAuth", "apiKey")


def security_schemes(version: VersionMapping, api_key_header: str) -> dict[str, dict[str, Any]]:
    return {
        "oauth2": {
            "type": "oauth2",
            "description": "Client credentials from the built-in authorization server.",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/oauth/token",
                    "scopes": version.declared_scopes(),
                }
            },
        },
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT access token from the built-in server or a trusted issuer.",
        },
        "apiKey": {
            "type": "apiKey",
            "in": "header",
            "name": api_key_header,
            "description": "An API key from `legacy-wrapper keys add` (server to server).",
        },
    }


def operation_security(resource: Resource, operation: str) -> dict[str, Any]:
    """`security` for one operation: every scheme needs the operation's scopes."""
    scopes = list(resource.scopes.get(operation, ()))
    doc: dict[str, Any] = {"security": [{name: scopes} for name in SECURITY_SCHEMES]}
    if not scopes:
        doc["description"] = "No scope is declared for this operation: no caller may use it."
    return doc
