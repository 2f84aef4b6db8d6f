"""The configuration file: parsed and validated once at start into frozen objects.

Shape (see `wrapper/demo/mapping.yaml` for a complete example)::

    source:
      url: sqlite:///plant.db          # any SQLAlchemy URL
      read_only: true                  # default
      pool_size: 5
      pool_timeout: 5                  # seconds to wait for a free connection
      statement_timeout: 10            # seconds a legacy query may run
      max_concurrent: 5                # bulkhead: queries at once per process (default pool_size)
      queue_timeout: 5                 # seconds a caller waits for a slot, then 503 (pool_timeout)
    paging: {default_limit: 50, max_limit: 1000}
    limits:                            # absent: no rate limits
      storage: memory://               # redis://127.0.0.1:6379/0 when several workers serve
      strategy: fixed-window           # or moving-window, sliding-window-counter
      default: 600/minute              # per client (identity, else client IP)
      global: 6000/minute              # all clients together
      scopes: {dashboards: 6000/minute}  # tiers by token scope (most generous wins)
      clients: {reporting-svc: 20000/minute}  # tiers by identity (before scopes)
    cache:                             # the shared response cache and its request coalescing
      storage: memory://               # redis://... when several workers or hosts serve
      wait: 5                          # seconds identical requests wait for the first one
    state: wrapper-state.db            # the wrapper's own database (SQLite path or URL);
                                       # default: wrapper-state.db next to this file
    public_url: https://api.example.com  # links start here (default: relative links)
    cors: {origins: [https://portal.example.com], max_age: 600}  # see wrapper/web_config.py
    versions:
      v1:
        title: Plant API
        public_url: ...                # and cors: per version, replacing the top-level ones
        resources:
          jobs:
            table: JOBSCHED
            schema: null               # PostgreSQL/SQL Server schema, DB2 library
            key: [job_id]              # default: the table's primary key
            scopes: jobs:read          # or {list: [...], item: [...]}; none: no token reaches it
            fields:
              job_id: JOB_NO           # shorthand: the column, converter inferred
              status: {column: STAT, convert: {enum: {RN: running}}, filter: true, sort: true}
              work_center: {column: WRK_CTR, rows: {claim: work_center, unless_scope: jobs:all}}
              cost: {column: COST, scope: jobs:cost}   # hidden without that scope
            relations:
              order: {resource: orders, on: {order_id: order_id}, many: false}
    auth: {...}                        # see wrapper/auth/config.py

Nothing here reads the environment or the file again after `load_config`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wrapper.auth.config import AuthConfig, parse_auth, state_url
from wrapper.protection_config import (
    CacheConfig,
    LimitsConfig,
    ResourceCacheConfig,
    parse_cache,
    parse_limits,
    parse_resource_cache,
)
from wrapper.web_config import CorsConfig, parse_cors, parse_public_url
from wrapper.yaml_source import Located, Problems, load_yaml, section, typed, unknown_keys

CONTROL_PARAMETERS = frozenset({"limit", "sort", "fields", "cursor", "expand", "count"})
OPERATIONS = ("list", "item")
SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 scope-token
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "like", "startswith", "isnull")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_VERSION = re.compile(r"^v[0-9]+$")
DEFAULT_STATE = "wrapper-state.db"


class ConfigError(Exception):
    """Raised with every problem found, each prefixed with its file and line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class SourceConfig:
    url: str
    read_only: bool = True
    pool_size: int = 5
    pool_timeout: float = 5.0
    statement_timeout: float | None = 10.0
    max_concurrent: int | None = None  # bulkhead size; None: pool_size
    queue_timeout: float | None = None  # bulkhead wait; None: pool_timeout
    schema_cache: str | None = None  # where the reflected schema is saved (schema_cache.py)

    @property
    def bulkhead_size(self) -> int:
        return self.max_concurrent or self.pool_size

    @property
    def bulkhead_wait(self) -> float:
        return self.queue_timeout if self.queue_timeout is not None else self.pool_timeout


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


@dataclass(frozen=True)
class VersionConfig:
    name: str
    title: str
    description: str | None
    resources: tuple[ResourceConfig, ...]
    public_url: str | None = None  # None: the top-level public_url
    cors: CorsConfig | None = None  # None: the top-level cors


@dataclass(frozen=True)
class StateConfig:
    """The wrapper's own database (clients, keys, cursor keys), never the legacy one."""

    url: str  # SQLAlchemy URL; `sqlite://` (in memory) for a configuration without a file


@dataclass(frozen=True)
class Config:
    source: SourceConfig
    paging: PagingConfig
    versions: tuple[VersionConfig, ...]
    filename: str = "<config>"
    base_dir: Path = Path(".")
    auth: AuthConfig | None = None  # None: only serveable with the explicit no-auth mode
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    state: StateConfig = field(default_factory=lambda: StateConfig("sqlite://"))
    public_url: str | None = None  # None: relative links
    cors: CorsConfig = field(default_factory=CorsConfig)

    def version_public_url(self, version: str) -> str | None:
        found = next((v for v in self.versions if v.name == version), None)
        return found.public_url if found and found.public_url else self.public_url

    def version_cors(self, version: str) -> CorsConfig:
        found = next((v for v in self.versions if v.name == version), None)
        return found.cors if found and found.cors is not None else self.cors

    def resource_cache(self, version: str, resource: str) -> ResourceCacheConfig | None:
        for v in self.versions:
            if v.name == version:
                for r in v.resources:
                    if r.name == resource:
                        return r.cache
        return None


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"{path}: cannot read the configuration file: {err.strerror}"]) from None
    return parse_config(text, filename=str(path), base_dir=path.parent)


def parse_config(text: str, *, filename: str = "<config>", base_dir: Path | None = None) -> Config:
    """`base_dir` is where relative paths start (the file's folder); without it the
    state database defaults to memory, since there is no folder to keep it in."""
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f"{mark.line + 1}" if mark else "?"
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError([f"{filename}:{line}: not valid YAML: {problem}"]) from None
    problems = Problems(filename)
    if not isinstance(raw, Located):
        raise ConfigError([f"{filename}:1: the file must be a YAML mapping"])
    unknown_keys(raw, set(_SECTIONS), "", problems)
    source = _source(raw, problems)
    paging = _paging(raw, problems)
    limits = parse_limits(raw, problems)
    cache = parse_cache(raw, problems)
    versions = _versions(raw, problems)
    folder = base_dir if base_dir is not None else Path(".")
    state = _state(raw, base_dir, problems)
    auth = parse_auth(raw, folder, problems, default_state=state.url) if "auth" in raw else None
    if auth is not None and auth.state != state.url:
        if "state" in raw:
            problems.at(
                raw, "state", "state", "auth.state names another database; keep only `state`"
            )
        else:  # an existing configuration: auth.state is the wrapper's state database
            state = StateConfig(auth.state)
    public_url = parse_public_url(raw, "", problems)
    cors = parse_cors(raw, "", problems) or CorsConfig()
    if problems:
        raise ConfigError(problems.items)
    assert source is not None
    return Config(
        source,
        paging,
        versions,
        filename=filename,
        base_dir=folder,
        auth=auth,
        limits=limits,
        cache=cache,
        state=state,
        public_url=public_url,
        cors=cors,
    )


_SECTIONS = (
    "source", "paging", "limits", "cache", "versions", "auth", "state", "public_url", "cors"
)  # fmt: skip


# ---------------------------------------------------------------------------- sections


def _state(raw: Located, base_dir: Path | None, problems: Problems) -> StateConfig:
    """`state: path-or-URL` or `state: {url: ...}`; default `wrapper-state.db` next to
    the configuration file."""
    node = raw.get("state")
    if isinstance(node, Located):
        unknown_keys(node, {"url"}, "state", problems)
        node = node.get("url")
    if node is None:
        if base_dir is None:
            return StateConfig("sqlite://")
        return StateConfig(state_url(DEFAULT_STATE, base_dir))
    if not isinstance(node, str) or not node:
        problems.at(raw, "state", "state", "a SQLite file path or a SQLAlchemy URL")
        return StateConfig("sqlite://")
    return StateConfig(state_url(node, base_dir if base_dir is not None else Path(".")))


def _source(raw: Located, problems: Problems) -> SourceConfig | None:
    node = raw.get("source")
    if not isinstance(node, Located):
        problems.at(raw, "source", "source", "a mapping with at least `url` is required")
        return None
    unknown_keys(
        node,
        {
            "url",
            "read_only",
            "pool_size",
            "pool_timeout",
            "statement_timeout",
            "max_concurrent",
            "queue_timeout",
            "schema_cache",
        },
        "source",
        problems,
    )
    url = typed(node, "url", str, "source", problems)
    if not url:
        problems.at(node, "url", "source.url", "a SQLAlchemy URL is required")
    values: dict[str, Any] = {"url": url or ""}
    if "schema_cache" in node:
        values["schema_cache"] = typed(node, "schema_cache", str, "source", problems)
    for key, kind in (
        ("read_only", bool),
        ("pool_size", int),
        ("pool_timeout", (int, float)),
        ("statement_timeout", (int, float)),
        ("max_concurrent", int),
        ("queue_timeout", (int, float)),
    ):
        if key in node:
            value = typed(node, key, kind, "source", problems)
            if value is not None:
                if kind is not bool and value <= 0:
                    problems.at(node, key, f"source.{key}", "must be greater than 0")
                values[key] = value
    return SourceConfig(**values)


def _paging(raw: Located, problems: Problems) -> PagingConfig:
    node = section(raw, "paging", problems)
    if node is None:
        return PagingConfig()
    unknown_keys(node, {"default_limit", "max_limit"}, "paging", problems)
    default = typed(node, "default_limit", int, "paging", problems) or 50
    maximum = typed(node, "max_limit", int, "paging", problems) or 1000
    if not 1 <= default <= maximum:
        problems.at(node, "default_limit", "paging", "need 1 <= default_limit <= max_limit")
    return PagingConfig(default, maximum)


def _versions(raw: Located, problems: Problems) -> tuple[VersionConfig, ...]:
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
        {"table", "schema", "key", "fields", "relations", "description", "scopes", "cache"},
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
            problems.at(
                body, "filter", f"{path}.filter", f"unknown operators {bad}; use {OPERATORS}"
            )
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
