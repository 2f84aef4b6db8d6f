"""`inspect` and `init` on exports: `--source files:exports/ [--layout copybooks/]`.

The exports found (`legacy_adapters.files.discover`) are parsed as the
`tables:` of a files source would be, loaded into a temporary store and
reflected like any source; `init` writes that `sources:` entry into the mapping,
its paths relative to the mapping file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from legacy_adapters.base import Schema, SourceError, TableRef
from wrapper.config import ConfigError
from wrapper.config.files import parse_files
from wrapper.config.located import Located, Problems, load_yaml
from wrapper.config.sources import SourceConfig
from wrapper.sources import discover_exports, open_source

SOURCE_NAME = "exports"


@contextmanager
def reflected_exports(
    url: str, layouts: Path | None, encoding: str
) -> Iterator[tuple[Schema, dict[str, dict[str, Any]], list[str]]]:
    """(the loaded tables' schema, the `tables:` entries, a line per file left out)."""
    folder = url.split(":", 1)[1] or "."
    tables, skipped = discover_exports(folder, layouts, encoding)
    if not tables:
        raise SourceError(f"no export found in {folder} ({'; '.join(skipped) or 'it is empty'})")
    store = tempfile.mkdtemp(prefix="lw-exports-")
    try:
        node = load_yaml(yaml.safe_dump({"kind": "files", "tables": tables}))
        assert isinstance(node, Located)
        problems = Problems(url)
        files = parse_files(node, "source", Path("."), problems)
        if problems or files is None:
            raise ConfigError(problems.items)
        files = replace(files, store=store)
        source = open_source(SourceConfig(url=url, name=SOURCE_NAME, kind="files", files=files))
        try:
            state = source.status()["tables"]  # type: ignore[attr-defined]
            for name, entry in state.items():
                if entry["last_error"]:
                    skipped.append(f"{name}: refused: {entry['last_error']['reason']}")
                    tables.pop(name)
            if not tables:
                raise SourceError("no export could be loaded: " + "; ".join(skipped))
            yield source.reflect(tables=[TableRef(t) for t in tables]), tables, skipped
        finally:
            source.close()
    finally:
        shutil.rmtree(store, ignore_errors=True)


def sources_section(tables: dict[str, dict[str, Any]], mapping_folder: Path) -> dict[str, Any]:
    """The `sources:` entry `init` writes: paths relative to the mapping's folder,
    an empty key to fill in per table."""
    written: dict[str, Any] = {}
    for name, spec in tables.items():
        entry = dict(spec)
        for option in ("path", "copybook", "layout"):
            if option in entry:
                relative = os.path.relpath(entry[option], mapping_folder.resolve())
                entry[option] = relative + ("/" if entry[option].endswith("/") else "")
        entry["key"] = []
        written[name] = entry
    return {SOURCE_NAME: {"kind": "files", "check_interval": 60, "tables": written}}
