"""The `paging:` and `versions:` sections: the API versions, their resources,
fields, relations, scopes, row rules and per-resource cache settings.

Row rules are declared where they belong: on a field (`rows: {claim:
customer_no}`: only rows whose field equals the caller's claim) or on a resource
(`rows: {through: order}`: only rows whose related `order` the caller may see).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wrapper.config.capture import CaptureConfig, parse_capture
from wrapper.config.located import Located, Problems, section, typed, unknown_keys
from wrapper.config.protection import ResourceCacheConfig, parse_resource_cache
from wrapper.config.web import CorsConfig, parse_cors, parse_public_url
from wrapper.operators import CONTROL_PARAMETERS, OPERATORS

OPERATIONS = ("list", "item")
SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 scope-token
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^v[0-9]+$")
_RESOURCE_KEYS = {
    "table", "schema", "source", "key", "fields", "relations", "description", "scopes",
    "cache", "rows", "events",
}  # fmt: skip


@dataclass(frozen=True)
class PagingConfig:
    default_limit: int = 50
    max_limit: int = 1000


@dataclass(frozen=True)
class FieldConfig:
    name: str
    column: str
    convert: Any  # converter declaration, validated against the column later
    filter: tuple[str, ...] | bool
    sort: bool
    description: str | None
    line: int
    scope: str | None = None  # extra scope a caller needs to see this field
    rows: RowRuleConfig | None = None  # rows visible only where field == a token claim


@dataclass(frozen=True)
class RowRuleConfig:
    """`rows: {claim: customer_no, unless_scope: orders:all}` on a field."""

    claim: str
    unless_scope: str | None = None


@dataclass(frozen=True)
class ThroughRuleConfig:
    """`rows: {through: order, unless_scope: orders:all}` on a resource: its rows are
    visible where the related `order` is (the target's own row rules apply)."""

    relation: str
    unless_scope: str | None = None
    line: int = 0


@dataclass(frozen=True)
class RelationConfig:
    name: str
    resource: str
    on: tuple[tuple[str, str], ...]  # (local field, remote field)
    many: bool
    line: int


@dataclass(frozen=True)
class ResourceConfig:
    name: str
    table: str
    schema: str | None
    key: tuple[str, ...] | None
    fields: tuple[FieldConfig, ...]
    relations: tuple[RelationConfig, ...]
    description: str | None
    line: int
    scopes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # operation -> scopes
    cache: ResourceCacheConfig | None = None
    source: str | None = None  # the source it reads; None: the only one
    rows: ThroughRuleConfig | None = None
    events: CaptureConfig | None = None  # how its changes are captured; None: no events


@dataclass(frozen=True)
class VersionConfig:
    name: str
    title: str
    description: str | None
    resources: tuple[ResourceConfig, ...]
    public_url: str | None = None  # None: the top-level public_url
    cors: CorsConfig | None = None  # None: the top-level cors


def parse_paging(raw: Located, problems: Problems) -> PagingConfig:
    node = section(raw, "paging", problems)
    if node is None:
        return PagingConfig()
    unknown_keys(node, {"default_limit", "max_limit"}, "paging", problems)
    default = typed(node, "default_limit", int, "paging", problems) or 50
    maximum = typed(node, "max_limit", int, "paging", problems) or 1000
    if not 1 <= default <= maximum:
        problems.at(node, "default_limit", "paging", "need 1 <= default_limit <= max_limit")
    return PagingConfig(default, maximum)


def parse_versions(raw: Located, problems: Problems) -> tuple[VersionConfig, ...]:
    node = raw.get("versions")
    if not isinstance(node, Located) or not node:
        problems.at(raw, "versions", "versions", "at least one API version (v1) is required")
        return ()
    versions = []
    for name, body in node.items():
        path = f"versions.{name}"
        if not isinstance(name, str) or not _VERSION.match(name):
            problems.at(node, str(name), path, "a version is named v1, v2, ...")
            continue
        if not isinstance(body, Located):
            problems.at(node, name, path, "must be a mapping with `resources`")
            continue
        unknown_keys(
            body, {"title", "description", "resources", "public_url", "cors"}, path, problems
        )
        resources_node = body.get("resources")
        if not isinstance(resources_node, Located) or not resources_node:
            problems.at(body, "resources", f"{path}.resources", "at least one resource is required")
            continue
        resources = tuple(
            r
            for rname, rbody in resources_node.items()
            if (r := _resource(resources_node, rname, rbody, f"{path}.resources", problems))
        )
        title = str(body.get("title") or f"Legacy data API {name}")
        versions.append(
            VersionConfig(
                name,
                title,
                body.get("description"),
                resources,
                public_url=parse_public_url(body, path, problems),
                cors=parse_cors(body, path, problems),
            )
        )
    return tuple(versions)


def _resource(
    parent: Located, name: Any, body: Any, path: str, problems: Problems
) -> ResourceConfig | None:
    path = f"{path}.{name}"
    if not isinstance(name, str) or not _NAME.match(name):
        problems.at(parent, str(name), path, "resource names are lower_snake_case")
        return None
    if not isinstance(body, Located):
        problems.at(parent, name, path, "must be a mapping with `table` and `fields`")
        return None
    unknown_keys(
        body,
        _RESOURCE_KEYS,
        path,
        problems,
    )
    table = body.get("table")
    if not isinstance(table, str) or not table:
        problems.at(body, "table", f"{path}.table", "the legacy table or view name is required")
        table = ""
    schema = typed(body, "schema", str, path, problems)
    key = body.get("key")
    if key is not None:
        if isinstance(key, str):
            key = [key]
        if not isinstance(key, list) or not all(isinstance(k, str) for k in key) or not key:
            problems.at(body, "key", f"{path}.key", "must be a field name or a list of them")
            key = None
    fields_node = body.get("fields")
    fields: list[FieldConfig] = []
    if not isinstance(fields_node, Located) or not fields_node:
        problems.at(body, "fields", f"{path}.fields", "at least one field is required")
    else:
        for fname, fbody in fields_node.items():
            f = _field(fields_node, fname, fbody, f"{path}.fields", problems)
            if f:
                fields.append(f)
    relations: list[RelationConfig] = []
    rel_node = body.get("relations") or {}
    if not isinstance(rel_node, Mapping):
        problems.at(body, "relations", f"{path}.relations", "must be a mapping")
    else:
        for rname, rbody in rel_node.items():
            rel = _relation(rel_node, rname, rbody, f"{path}.relations", problems)
            if rel:
                relations.append(rel)
    names = [f.name for f in fields] + [r.name for r in relations]
    for dup in {n for n in names if names.count(n) > 1}:
        problems.at(body, "fields", f"{path}.{dup}", "a field and a relation share this name")
    return ResourceConfig(
        name=name,
        table=table,
        schema=schema,
        key=tuple(key) if key else None,
        fields=tuple(fields),
        relations=tuple(relations),
        description=body.get("description"),
        line=parent.line_of(name),
        scopes=_scopes(body, path, problems),
        cache=parse_resource_cache(body, path, problems),
        source=typed(body, "source", str, path, problems),
        rows=_through_rule(body, path, problems),
        events=parse_capture(body, path, problems),
    )


def _scope_list(value: Any) -> tuple[str, ...] | None:
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(s, str) and SCOPE.match(s) for s in items):
        return None
    return tuple(items)


def _scopes(body: Located, path: str, problems: Problems) -> dict[str, tuple[str, ...]]:
    """`scopes: orders:read` (every operation) or `{list: [...], item: [...]}`.

    No scopes: no token reaches the resource (default deny)."""
    node = body.get("scopes")
    if node is None:
        return {}
    if isinstance(node, Mapping):
        unknown_keys(node, set(OPERATIONS), f"{path}.scopes", problems)
        result = {}
        for op, value in node.items():
            scopes = _scope_list(value)
            if scopes is None:
                problems.at(node, op, f"{path}.scopes.{op}", "a scope or a list of scopes")
            elif op in OPERATIONS:
                result[op] = scopes
        return result
    scopes = _scope_list(node)
    if scopes is None:
        problems.at(body, "scopes", f"{path}.scopes", "a scope, a list, or {list:, item:}")
        return {}
    return dict.fromkeys(OPERATIONS, scopes)


def _through_rule(body: Located, path: str, problems: Problems) -> ThroughRuleConfig | None:
    node = body.get("rows")
    if node is None:
        return None
    if not isinstance(node, Located) or not isinstance(node.get("through"), str):
        problems.at(body, "rows", f"{path}.rows", "a resource's rows: {through: <relation>}")
        return None
    unknown_keys(node, {"through", "unless_scope"}, f"{path}.rows", problems)
    unless = node.get("unless_scope")
    if unless is not None and not (isinstance(unless, str) and SCOPE.match(unless)):
        problems.at(node, "unless_scope", f"{path}.rows.unless_scope", "must be one scope")
        unless = None
    return ThroughRuleConfig(node["through"], unless, body.line_of("rows"))


def _row_rule(body: Located, path: str, problems: Problems) -> RowRuleConfig | None:
    node = body.get("rows")
    if node is None:
        return None
    if isinstance(node, str):
        node = {"claim": node}
    if not isinstance(node, Mapping):
        problems.at(body, "rows", f"{path}.rows", "a claim name or {claim:, unless_scope:}")
        return None
    if isinstance(node, Located):
        unknown_keys(node, {"claim", "unless_scope"}, f"{path}.rows", problems)
    claim, unless = node.get("claim"), node.get("unless_scope")
    if not isinstance(claim, str) or not claim:
        problems.at(body, "rows", f"{path}.rows.claim", "the token claim rows must match")
        return None
    if unless is not None and not (isinstance(unless, str) and SCOPE.match(unless)):
        problems.at(body, "rows", f"{path}.rows.unless_scope", "must be one scope")
        unless = None
    return RowRuleConfig(claim, unless)


def _field(
    parent: Located, name: Any, body: Any, path: str, problems: Problems
) -> FieldConfig | None:
    path = f"{path}.{name}"
    line = parent.line_of(str(name))
    if not isinstance(name, str) or not _NAME.match(name):
        problems.add(line, path, "field names are lower_snake_case")
        return None
    if name in CONTROL_PARAMETERS:
        problems.add(
            line, path, f"{name!r} is a query control parameter; rename the field (e.g. {name}_)"
        )
        return None
    if isinstance(body, str):
        return FieldConfig(name, body, None, False, False, None, line)
    if not isinstance(body, Located):
        problems.add(line, path, "must be a column name or a mapping with `column`")
        return None
    unknown_keys(
        body,
        {"column", "convert", "filter", "sort", "description", "scope", "rows"},
        path,
        problems,
    )
    column = body.get("column")
    if not isinstance(column, str) or not column:
        problems.at(body, "column", f"{path}.column", "the legacy column name is required")
        return None
    filt = body.get("filter", False)
    if isinstance(filt, list):
        bad = [op for op in filt if op not in OPERATORS]
        if bad:
            known = ", ".join(OPERATORS)
            problems.at(body, "filter", f"{path}.filter", f"unknown operators {bad}; use {known}")
        filt = tuple(op for op in filt if op in OPERATORS)
    elif not isinstance(filt, bool):
        problems.at(body, "filter", f"{path}.filter", "must be true, false or a list of operators")
        filt = False
    sort = body.get("sort", False)
    if not isinstance(sort, bool):
        problems.at(body, "sort", f"{path}.sort", "must be true or false")
        sort = False
    scope = body.get("scope")
    if scope is not None and not (isinstance(scope, str) and SCOPE.match(scope)):
        problems.at(body, "scope", f"{path}.scope", "must be one scope, e.g. orders:pricing")
        scope = None
    return FieldConfig(
        name,
        column,
        body.get("convert"),
        filt,
        sort,
        body.get("description"),
        line,
        scope=scope,
        rows=_row_rule(body, path, problems),
    )


def _relation(
    parent: Mapping, name: Any, body: Any, path: str, problems: Problems
) -> RelationConfig | None:
    path = f"{path}.{name}"
    line = parent.line_of(str(name)) if isinstance(parent, Located) else 0
    if not isinstance(name, str) or not _NAME.match(name) or name in CONTROL_PARAMETERS:
        problems.add(line, path, "relation names are lower_snake_case and not control parameters")
        return None
    if not isinstance(body, Located):
        problems.add(line, path, "must be a mapping with `resource` and `on`")
        return None
    unknown_keys(body, {"resource", "on", "many"}, path, problems)
    resource = body.get("resource")
    on = body.get("on")
    if not isinstance(resource, str):
        problems.at(body, "resource", f"{path}.resource", "the related resource is required")
        return None
    if not isinstance(on, Mapping) or not on:
        problems.at(body, "on", f"{path}.on", "a mapping of local field: related field")
        return None
    many = body.get("many", True)
    return RelationConfig(
        name, resource, tuple((str(k), str(v)) for k, v in on.items()), bool(many), line
    )
