"""The `source:` / `sources:` sections: the legacy sources a mapping reads.

One source::

    source: {url: sqlite:///plant.db, pool_size: 5, statement_timeout: 10}

or several, named, each resource naming the one it reads (`source: erp`; a
mapping with one source needs no names)::

    sources:
      erp:   {url: 'postgresql+psycopg://reader@erp/erp'}
      plant: {url: 'odbc:DSN=PLANT;UID=reader;PWD=${PLANT_PWD}'}

A source's `kind` (`sql` or `odbc`) follows from its URL (`odbc:...` is ODBC,
anything else a SQLAlchemy URL) and may be written out; `wrapper/sources.py`
picks the adapter by kind. A source of kind `files` (file exports loaded into
local tables) has no URL but `tables:` (see `files.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from wrapper.config.files import FilesConfig, parse_files
from wrapper.config.located import Located, Problems, typed, unknown_keys

DEFAULT_SOURCE = "default"
KINDS = ("sql", "odbc", "files")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_OPTIONS: dict[str, Any] = {
    "read_only": bool,
    "pool_size": int,
    "pool_timeout": (int, float),
    "statement_timeout": (int, float),
    "max_concurrent": int,
    "queue_timeout": (int, float),
    "busy_after": (int, float),
}


@dataclass(frozen=True)
class SourceConfig:
    url: str
    name: str = DEFAULT_SOURCE
    kind: str = "sql"
    read_only: bool = True
    pool_size: int = 5
    pool_timeout: float = 5.0
    statement_timeout: float | None = 10.0
    max_concurrent: int | None = None  # bulkhead size; None: pool_size
    queue_timeout: float | None = None  # bulkhead wait; None: pool_timeout
    busy_after: float = 1.0  # a caller finding every slot held this long fails at once
    schema_cache: str | None = None  # where the reflected schema is saved (schema_cache.py)
    files: FilesConfig | None = None  # kind `files`: the exports and how to read them

    @property
    def bulkhead_size(self) -> int:
        return self.max_concurrent or self.pool_size

    def bulkhead_size_under(self, threads: int | None) -> int:
        """The bulkhead of a worker with `threads` threads (None: not known):
        `max_concurrent` when given, else `pool_size` but fewer than the
        threads, so that one thread is always free of the legacy database for
        `/livez`, the documents and cached pages."""
        if self.max_concurrent or not threads or threads < 2:
            return self.bulkhead_size
        return min(self.pool_size, threads - 1)

    @property
    def bulkhead_wait(self) -> float:
        return self.queue_timeout if self.queue_timeout is not None else self.pool_timeout


def kind_of(url: str) -> str:
    lowered = url.lower()
    if lowered.startswith("files:"):
        return "files"
    return "odbc" if lowered.startswith("odbc:") else "sql"


def parse_sources(
    raw: Located, problems: Problems, base_dir: Path | None = None
) -> dict[str, SourceConfig]:
    """Every source by name (at least one)."""
    single, named = raw.get("source"), raw.get("sources")
    if single is not None and named is not None:
        problems.at(raw, "sources", "sources", "give `source` or `sources`, not both")
        return {}
    if named is None:
        source = _source(raw, "source", DEFAULT_SOURCE, problems, base_dir=base_dir)
        return {source.name: source} if source else {}
    if not isinstance(named, Located) or not named:
        problems.at(raw, "sources", "sources", "a mapping of source name: {url: ...}")
        return {}
    result = {}
    for name in named:
        if not isinstance(name, str) or not _NAME.match(name):
            problems.at(named, str(name), f"sources.{name}", "source names are lower_snake_case")
            continue
        source = _source(named, name, name, problems, path=f"sources.{name}", base_dir=base_dir)
        if source:
            result[name] = source
    return result


def _source(
    parent: Located,
    key: str,
    name: str,
    problems: Problems,
    *,
    path: str = "source",
    base_dir: Path | None = None,
) -> SourceConfig | None:
    node = parent.get(key)
    if not isinstance(node, Located):
        problems.at(parent, key, path, "a mapping with at least `url` is required")
        return None
    url = node.get("url")
    if node.get("kind") == "files" or (isinstance(url, str) and kind_of(url) == "files"):
        files = parse_files(node, path, base_dir or Path("."), problems)
        if files is None:
            return None
        return SourceConfig(url=str(url or f"files:{name}"), name=name, kind="files", files=files)
    unknown_keys(node, {"url", "kind", "schema_cache", *_OPTIONS}, path, problems)
    url = typed(node, "url", str, path, problems)
    if not url:
        problems.at(node, "url", f"{path}.url", "a SQLAlchemy URL or odbc:... is required")
        return None
    kind = kind_of(url)
    declared = node.get("kind")
    if declared is not None and declared != kind:
        if declared not in KINDS:
            problems.at(node, "kind", f"{path}.kind", f"one of {', '.join(KINDS)}")
        else:
            problems.at(node, "kind", f"{path}.kind", f"the URL is of kind {kind}, not {declared}")
    values: dict[str, Any] = {"url": url, "name": name, "kind": kind}
    if "schema_cache" in node:
        values["schema_cache"] = typed(node, "schema_cache", str, path, problems)
    for option, types in _OPTIONS.items():
        if option in node:
            value = typed(node, option, types, path, problems)
            if value is not None:
                if types is not bool and value <= 0:
                    problems.at(node, option, f"{path}.{option}", "must be greater than 0")
                values[option] = value
    return SourceConfig(**values)


def with_file_stores(
    sources: dict[str, SourceConfig], state_url: str, base_dir: Path | None, problems: Problems
) -> dict[str, SourceConfig]:
    """Files sources without a `store:` keep their loaded exports next to the
    wrapper's state database (`<state>-files/<source>/`)."""
    result = dict(sources)
    for name, source in sources.items():
        if source.files is None or source.files.store is not None:
            continue
        if state_url.startswith("sqlite:///"):
            state = Path(state_url.removeprefix("sqlite:///"))
            folder = state.with_name(f"{state.stem}-files") / name
        elif base_dir is not None:
            folder = base_dir.resolve() / "wrapper-state-files" / name
        else:
            problems.add(
                source.files.line, f"sources.{name}.store", "give the folder for the loaded exports"
            )
            continue
        result[name] = replace(source, files=replace(source.files, store=str(folder)))
    return result
