"""Find the exports in a folder and how to read them, for `inspect` and `init`.

Each file of the folder is one table named after the file (`CUSTMAST.csv` ->
`CUSTMAST`); each subfolder is a drop folder, one table named after the
folder, read like its newest file. The format follows the file name: `.csv`,
`.txt`, `.tsv` are CSV (header row assumed; delimiter and encoding guessed from
the first 64 KiB: UTF-8 when it decodes, else cp1252), `.dbf` is DBF; any other
file is fixed-width when a layout of the same name (`CUSTMAST.cpy`, `.cob`,
`.cbl`, `.copy`, or a `.yaml`/`.json` layout list) is in the layouts folder.
Files with neither are listed as skipped.

Each table comes back as the `tables:` entry a files source takes, with
absolute paths; keys are for the user to declare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from legacy_adapters.files.exports import NOT_EXPORTS, newest_export

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
LAYOUT_SUFFIXES = (".cpy", ".cob", ".cbl", ".copy", ".yaml", ".yml", ".json")
DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 1 << 16


def discover(
    folder: str | Path, layouts: str | Path | None = None, *, encoding: str = "cp037"
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(tables by name, a line per file skipped and why). `encoding` is the code
    page of fixed-width files."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    by_stem = _layouts(Path(layouts)) if layouts else {}
    tables: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name.lower().endswith(NOT_EXPORTS):
            continue
        if entry.is_dir():
            newest = newest_export(f"{entry}/")
            if newest is None:
                skipped.append(f"{entry.name}/: no export in it yet")
                continue
            name, sample, path = entry.name, newest.path, f"{entry.resolve()}/"
        else:
            name, sample, path = entry.stem, entry, str(entry.resolve())
        spec = _spec(sample, path, by_stem.get(name.upper()), encoding)
        if spec is None:
            skipped.append(f"{entry.name}: not CSV or DBF, and no layout named {name} found")
        elif name in tables:
            skipped.append(f"{entry.name}: a second export for table {name}")
        else:
            tables[name] = spec
    return tables, skipped


def _layouts(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    return {
        p.stem.upper(): p.resolve()
        for p in sorted(folder.iterdir())
        if p.suffix.lower() in LAYOUT_SUFFIXES
    }


def _spec(sample: Path, path: str, layout: Path | None, encoding: str) -> dict[str, Any] | None:
    suffix = sample.suffix.lower()
    if suffix == ".dbf":
        return {"path": path, "format": "dbf"}
    if suffix in CSV_SUFFIXES:
        head = sample.read_bytes()[:SNIFF_BYTES]
        try:
            text, found = head.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            if exc.start > len(head) - 4:  # a character cut at the end of the sample
                text, found = head[: exc.start].decode("utf-8"), "utf-8"
            else:
                text, found = head.decode("cp1252", errors="replace"), "cp1252"
        first = text.splitlines()[0] if text else ""
        delimiter = max(DELIMITERS, key=first.count)
        return {"path": path, "format": "csv", "encoding": found, "delimiter": delimiter}
    if layout is None:
        return None
    kind = "layout" if layout.suffix.lower() in (".yaml", ".yml", ".json") else "copybook"
    return {"path": path, "format": "fixed_width", kind: str(layout), "encoding": encoding}
