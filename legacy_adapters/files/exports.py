"""Where a table's exports arrive, which one is newest, and the reader for it.

A drop folder (a path ending in `/`, or an existing folder) holds one export
per file; its newest file (by modification time, then name) is the current
export. A pattern (`drops/ACCT*.DAT`) works the same over the files it matches.
Memo files (`.dbt`, `.fpt`), hidden files and files still being copied under a
temporary name (`.part`, `.tmp`) are never exports: copy an export under a
temporary name and rename it when complete.

Looking for the newest export only lists the folder and reads each file's
size and modification time; nothing is read from the files.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from legacy_adapters.files.csv_reader import CsvReader
from legacy_adapters.files.dbf import DbfReader
from legacy_adapters.files.fixed_width import FixedWidthReader
from legacy_adapters.files.layout import load_layout
from legacy_adapters.files.records import RecordReader

NOT_EXPORTS = (".dbt", ".fpt", ".part", ".tmp")


class ExportSpec(Protocol):
    """How one table's exports arrive and are read (the configuration's `tables:` entry)."""

    @property
    def table(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def format(self) -> str: ...  # csv, fixed_width, dbf
    @property
    def key(self) -> tuple[str, ...]: ...
    @property
    def sort(self) -> tuple[tuple[str, ...], ...]: ...
    @property
    def policy(self) -> str: ...
    @property
    def max_rejected(self) -> int | None: ...
    @property
    def allow_empty(self) -> bool: ...
    @property
    def encoding(self) -> str | None: ...
    @property
    def delimiter(self) -> str: ...
    @property
    def quotechar(self) -> str: ...
    @property
    def header(self) -> bool: ...
    @property
    def columns(self) -> tuple[str, ...] | None: ...
    @property
    def types(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def decimal_point(self) -> str: ...
    @property
    def copybook(self) -> str | None: ...
    @property
    def layout(self) -> str | None: ...
    @property
    def record(self) -> str | None: ...
    @property
    def recfm(self) -> str: ...
    @property
    def empty_numeric(self) -> str: ...


@dataclass(frozen=True)
class Export:
    """One export file as last seen: what says whether it changed."""

    path: Path
    size: int
    mtime_ns: int

    @property
    def identity(self) -> tuple[str, int, int]:
        return str(self.path), self.size, self.mtime_ns


def candidates(spec_path: str) -> list[str]:
    if spec_path.endswith("/") or os.path.isdir(spec_path):
        return [os.path.join(spec_path, name) for name in os.listdir(spec_path)]
    return glob.glob(spec_path)


def newest_export(spec_path: str) -> Export | None:
    """The newest export file at a drop folder or pattern, or None when there is none yet."""
    best: Export | None = None
    try:
        names = candidates(spec_path)
    except FileNotFoundError:
        return None
    for name in names:
        base = os.path.basename(name)
        if base.startswith(".") or base.lower().endswith(NOT_EXPORTS):
            continue
        try:
            stat = os.stat(name)
        except OSError:
            continue
        if not os.path.isfile(name):
            continue
        found = Export(Path(name), stat.st_size, stat.st_mtime_ns)
        if best is None or (found.mtime_ns, base) > (best.mtime_ns, best.path.name):
            best = found
    return best


def open_reader(spec: ExportSpec, path: Path) -> RecordReader:
    """The reader for one export file; raises `FileFormatError` (or `ValueError`,
    `LayoutError`, `OSError`) when the file or its layout cannot be read at all."""
    if spec.format == "csv":
        return CsvReader(
            path,
            encoding=spec.encoding or "utf-8",
            delimiter=spec.delimiter,
            quotechar=spec.quotechar,
            header=spec.header,
            columns=spec.columns,
            types=dict(spec.types),
            decimal_point=spec.decimal_point,
        )
    if spec.format == "dbf":
        return DbfReader(path, encoding=spec.encoding)
    if spec.format == "fixed_width":
        layout_file = spec.copybook or spec.layout
        if layout_file is None:
            raise ValueError(f"table {spec.table}: a fixed-width export needs a copybook or layout")
        layout = load_layout(layout_file, record=spec.record)
        return FixedWidthReader(
            path,
            layout,
            encoding=spec.encoding or "cp037",
            recfm=spec.recfm,  # type: ignore[arg-type]
            empty_numeric=spec.empty_numeric,  # type: ignore[arg-type]
        )
    raise ValueError(f"table {spec.table}: unknown export format {spec.format!r}")
