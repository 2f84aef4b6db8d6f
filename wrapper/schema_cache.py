"""A saved copy of the reflected schema, so a (re)start during a database outage
still comes up.

Each successful serve-time reflection (only the mapped tables) is written to
`source.schema_cache` (relative to the configuration file's folder), by default
`<config folder>/.legacy-wrapper/schema-<hash of the source URL>.json`. When the
legacy database cannot be reached at start, the mapping is checked against that
copy instead: the server comes up, answers 503 for legacy reads, and the source
reflects its tables on the first query after the database is back. Without a
copy (the very first start), an unreachable database still refuses to start; a
mapping that does not fit the copy is refused exactly as it would be on the live
schema.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from legacy_adapters.base import (
    ColumnInfo,
    ForeignKeyInfo,
    IndexInfo,
    Schema,
    Source,
    SourceUnavailable,
    TableInfo,
    TableRef,
)
from wrapper.config import Config
from wrapper.mapping.model import mapped_tables

log = logging.getLogger(__name__)
FORMAT = 1


def snapshot_path(config: Config, name: str) -> Path | None:
    """Where the copy of source `name`'s schema lives: its `schema_cache`, else next
    to the configuration file (none for a configuration that comes from no file)."""
    settings = config.sources[name]
    if settings.schema_cache:
        return config.base_dir / settings.schema_cache
    if not Path(config.filename).is_file():
        return None
    digest = hashlib.sha256(settings.url.encode()).hexdigest()[:16]
    return config.base_dir / ".legacy-wrapper" / f"schema-{digest}.json"


def load_schema(source: Source, config: Config, name: str) -> Schema:
    """Reflect the tables mapped on source `name` and save the result; when the
    source is unreachable, the saved copy of them (or `SourceUnavailable`, saying
    why not)."""
    wanted = sorted(mapped_tables(config, name), key=str)
    path = snapshot_path(config, name)
    try:
        schema = source.reflect(tables=wanted)
    except SourceUnavailable as err:
        if path is None:
            raise
        saved = read_snapshot(path)
        if saved is None or saved.dialect != source.dialect:
            raise SourceUnavailable(f"{err} (and no saved schema at {path} to start from)") from err
        missing = [str(ref) for ref in wanted if saved.table(ref) is None]
        if missing:
            raise SourceUnavailable(
                f"{err} (and the saved schema at {path} lacks {', '.join(missing)})"
            ) from err
        log.warning("%s: starting from the schema saved at %s", err, path)
        return Schema(saved.dialect, tuple(t for t in saved.tables if t.ref in set(wanted)))
    if path is not None:
        write_snapshot(path, schema)
    return schema


def read_snapshot(path: Path) -> Schema | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT:
            return None
        return Schema(raw["dialect"], tuple(_table(t) for t in raw["tables"]))
    except (OSError, ValueError, KeyError, TypeError) as err:
        if not isinstance(err, FileNotFoundError):
            log.warning("cannot read the saved schema %s: %s", path, err)
        return None


def write_snapshot(path: Path, schema: Schema) -> None:
    """Write atomically, and only when it changed (every worker calls this at start)."""
    text = json.dumps(
        {"format": FORMAT, "dialect": schema.dialect, "tables": [_dict(t) for t in schema.tables]},
        indent=1,
    )
    try:
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError as err:
        log.warning(
            "cannot save the schema to %s (%s): a restart while the legacy database is down "
            "will fail; set source.schema_cache to a writable file",
            path,
            err,
        )


def _dict(table: TableInfo) -> dict[str, Any]:
    return dataclasses.asdict(table)


def _table(raw: dict[str, Any]) -> TableInfo:
    return TableInfo(
        ref=TableRef(**raw["ref"]),
        kind=raw["kind"],
        columns=tuple(
            ColumnInfo(**c | {"labels": tuple(c.get("labels", ()))}) for c in raw["columns"]
        ),
        primary_key=tuple(raw["primary_key"]),
        indexes=tuple(
            IndexInfo(i["name"], tuple(i["columns"]), i["unique"]) for i in raw["indexes"]
        ),
        foreign_keys=tuple(
            ForeignKeyInfo(
                tuple(f["columns"]),
                f["referred_schema"],
                f["referred_table"],
                tuple(f["referred_columns"]),
            )
            for f in raw["foreign_keys"]
        ),
    )
