"""The configuration file: parsed and validated once at start into frozen objects.

Shape (see `wrapper/demo/mapping.yaml` for a complete example)::

    source:                            # or several, named: sources: {erp: {...}, plant: {...}}
      url: sqlite:///plant.db          # any SQLAlchemy URL, or odbc:DSN=...
      read_only: true                  # default
      pool_size: 5
      pool_timeout: 5                  # seconds to wait for a free connection
      statement_timeout: 10            # seconds a legacy query may run
      max_concurrent: 5                # bulkhead: queries at once per process (default
                                       # pool_size, below serve's threads a worker)
      queue_timeout: 5                 # seconds a caller waits for a slot, then 503 (pool_timeout)
      busy_after: 1                    # ...or at once when every slot's query has run this long
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
    cors: {origins: [https://portal.example.com], max_age: 600}  # see config/web.py
    versions:
      v1:
        title: Plant API
        public_url: ...                # and cors: per version, replacing the top-level ones
        resources:
          jobs:
            source: erp                # with several sources: the one it reads
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
            events: {capture: watermark, column: UPD_TS, overlap: 5s}  # see config/capture.py
    auth: {...}                        # see config/auth.py
    webhooks: {allow: [127.0.0.1]}     # subscriptions API and worker; see config/webhooks.py

One module per section: `sources`, `mapping` (paging and versions),
`protection` (limits and cache), `web` (public_url and cors), `state`, `auth`,
`webhooks`;
`located` reads YAML keeping line numbers for the error messages. Nothing here
reads the environment or the file again after `load_config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from wrapper.config.auth import AuthConfig, parse_auth
from wrapper.config.capture import CaptureConfig
from wrapper.config.located import Located, Problems, load_yaml, unknown_keys
from wrapper.config.mapping import (
    OPERATIONS,
    SCOPE,
    FieldConfig,
    PagingConfig,
    RelationConfig,
    ResourceConfig,
    RowRuleConfig,
    ThroughRuleConfig,
    VersionConfig,
    parse_paging,
    parse_versions,
)
from wrapper.config.protection import (
    CacheConfig,
    LimitsConfig,
    ResourceCacheConfig,
    parse_cache,
    parse_limits,
)
from wrapper.config.sources import SourceConfig, parse_sources, with_file_stores
from wrapper.config.state import StateConfig, parse_state
from wrapper.config.web import CorsConfig, parse_cors, parse_public_url
from wrapper.config.webhooks import WebhooksConfig, parse_webhooks

__all__ = [
    "OPERATIONS",
    "SCOPE",
    "AuthConfig",
    "CacheConfig",
    "CaptureConfig",
    "Config",
    "ConfigError",
    "CorsConfig",
    "FieldConfig",
    "LimitsConfig",
    "PagingConfig",
    "RelationConfig",
    "ResourceCacheConfig",
    "ResourceConfig",
    "RowRuleConfig",
    "SourceConfig",
    "StateConfig",
    "ThroughRuleConfig",
    "VersionConfig",
    "WebhooksConfig",
    "load_config",
    "parse_config",
]


class ConfigError(Exception):
    """Raised with every problem found, each prefixed with its file and line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Config:
    sources: dict[str, SourceConfig]
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
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)

    def version_public_url(self, version: str) -> str | None:
        found = next((v for v in self.versions if v.name == version), None)
        return found.public_url if found and found.public_url else self.public_url

    def version_cors(self, version: str) -> CorsConfig:
        found = next((v for v in self.versions if v.name == version), None)
        return found.cors if found and found.cors is not None else self.cors


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"{path}: cannot read the configuration file: {err.strerror}"]) from None
    return parse_config(text, filename=str(path), base_dir=path.parent)


_SECTIONS = (
    "source", "sources", "paging", "limits", "cache", "versions", "auth", "state",
    "public_url", "cors", "webhooks",
)  # fmt: skip


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
    sources = parse_sources(raw, problems, base_dir)
    paging = parse_paging(raw, problems)
    limits = parse_limits(raw, problems)
    cache = parse_cache(raw, problems)
    versions = _with_sources(parse_versions(raw, problems), sources, problems)
    folder = base_dir if base_dir is not None else Path(".")
    state = parse_state(raw, base_dir, problems)
    auth = parse_auth(raw, folder, problems, default_state=state.url) if "auth" in raw else None
    if auth is not None and auth.state != state.url:
        if "state" in raw:
            problems.at(
                raw, "state", "state", "auth.state names another database; keep only `state`"
            )
        else:  # an existing configuration: auth.state is the wrapper's state database
            state = StateConfig(auth.state)
    sources = with_file_stores(sources, state.url, base_dir, problems)
    public_url = parse_public_url(raw, "", problems)
    cors = parse_cors(raw, "", problems) or CorsConfig()
    webhooks = parse_webhooks(raw, problems)
    if problems:
        raise ConfigError(problems.items)
    return Config(
        sources,
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
        webhooks=webhooks,
    )


def _with_sources(
    versions: tuple[VersionConfig, ...], sources: dict[str, SourceConfig], problems: Problems
) -> tuple[VersionConfig, ...]:
    """Every resource names its source; with one source it may leave it out."""
    from dataclasses import replace

    only = next(iter(sources)) if len(sources) == 1 else None
    result = []
    for version in versions:
        resources = []
        for rc in version.resources:
            where = f"versions.{version.name}.resources.{rc.name}.source"
            name = rc.source or only
            if name is None and sources:
                problems.add(rc.line, where, f"name one of the sources: {', '.join(sources)}")
            elif name is not None and name not in sources:
                problems.add(rc.line, where, f"no source {name!r} (sources: {', '.join(sources)})")
            resources.append(replace(rc, source=name))
        result.append(replace(version, resources=tuple(resources)))
    return tuple(result)
