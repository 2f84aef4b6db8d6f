"""A source of kind `files`: legacy exports dropped as files, one table per export.

::

    sources:
      mainframe:
        kind: files
        store: exports-db            # where loaded exports are kept (default: next to the state)
        check_interval: 30           # seconds between two looks at the drop folders
        tables:
          CUSTOMERS:                 # the table the mapping's resource names
            path: drops/customers/   # a drop folder (its newest file) or a pattern (*.csv)
            format: csv              # csv, fixed_width or dbf
            encoding: cp1252
            delimiter: ';'
            header: true             # or false, with `columns: [CUST_NO, NAME, ...]`
            types: {BALANCE: 'decimal(11,2)'}
            key: [CUST_NO]
            sort: [[NAME]]           # indexes for the sorts the mapping allows
            policy: reject           # or quarantine
          ACCOUNTS:
            path: 'drops/accounts/ACCT*.DAT'
            format: fixed_width
            copybook: copybooks/ACCOUNTS.cpy   # or layout: layouts/accounts.yaml
            encoding: cp037
            recfm: FB
            key: [ACCT-NO]

Relative paths start at the configuration file's folder. Parsed once at start;
nothing here touches the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wrapper.config.located import Located, Problems, typed, unknown_keys

FORMATS = ("csv", "fixed_width", "dbf")
POLICIES = ("reject", "quarantine")
RECFMS = ("F", "FB", "V", "VB")
_COMMON = {"path", "format", "key", "sort", "policy", "max_rejected", "encoding", "allow_empty"}
_BY_FORMAT = {
    "csv": {"delimiter", "quotechar", "header", "columns", "types", "decimal_point"},
    "fixed_width": {"copybook", "layout", "record", "recfm", "empty_numeric"},
    "dbf": set(),
}


@dataclass(frozen=True)
class ExportConfig:
    """Where one table's exports arrive and how to read them."""

    table: str
    path: str  # absolute: a folder (its newest file is the export) or a glob pattern
    format: str
    key: tuple[str, ...] = ()
    sort: tuple[tuple[str, ...], ...] = ()
    policy: str = "reject"
    max_rejected: int | None = None
    allow_empty: bool = False
    encoding: str | None = None  # None: the format's default
    delimiter: str = ","
    quotechar: str = '"'
    header: bool = True
    columns: tuple[str, ...] | None = None
    types: tuple[tuple[str, str], ...] = ()
    decimal_point: str = "."
    copybook: str | None = None  # absolute
    layout: str | None = None  # absolute
    record: str | None = None  # the copybook's 01 record, when it holds several
    recfm: str = "F"
    empty_numeric: str = "error"
    line: int = 0  # where the configuration declares it


@dataclass(frozen=True)
class FilesConfig:
    store: str | None  # absolute folder; None: next to the state database (config/__init__)
    tables: tuple[ExportConfig, ...]
    check_interval: float = 60.0
    line: int = 0  # where the configuration declares the source


def parse_files(node: Located, path: str, base_dir: Path, problems: Problems) -> FilesConfig | None:
    unknown_keys(node, {"kind", "url", "store", "check_interval", "tables"}, path, problems)
    store = typed(node, "store", str, path, problems)
    interval = typed(node, "check_interval", (int, float), path, problems)
    if interval is not None and interval <= 0:
        problems.at(node, "check_interval", f"{path}.check_interval", "must be greater than 0")
    tables = node.get("tables")
    if not isinstance(tables, Located) or not tables:
        problems.at(node, "tables", f"{path}.tables", "a mapping of table name: {path, format}")
        return None
    exports = []
    for name, spec in tables.items():
        where = f"{path}.tables.{name}"
        if not isinstance(spec, Located):
            problems.at(tables, str(name), where, "a mapping with at least `path` and `format`")
            continue
        export = _export(str(name), spec, where, base_dir, problems)
        if export is not None:
            exports.append(export)
    return FilesConfig(
        store=str(_absolute(store, base_dir)) if store else None,
        tables=tuple(exports),
        check_interval=float(interval) if interval else 60.0,
        line=getattr(node, "line", 0),
    )


def _absolute(value: str, base_dir: Path) -> Path:
    """Absolute and normalised, so the same export has one name whatever the
    working directory the configuration was loaded from."""
    path = Path(value).expanduser()
    return (path if path.is_absolute() else base_dir / path).resolve()


def _export(
    name: str, node: Located, where: str, base_dir: Path, problems: Problems
) -> ExportConfig | None:
    fmt = node.get("format")
    if fmt not in FORMATS:
        problems.at(node, "format", f"{where}.format", f"one of {', '.join(FORMATS)}")
        return None
    unknown_keys(node, _COMMON | _BY_FORMAT[fmt], where, problems)
    drop = typed(node, "path", str, where, problems)
    if not drop:
        problems.at(node, "path", f"{where}.path", "a drop folder or a file pattern")
        return None
    values: dict[str, Any] = {
        "table": name,
        "path": str(_absolute(drop, base_dir)) + ("/" if drop.endswith("/") else ""),
        "format": fmt,
        "line": node.line_of("path"),
    }
    for option, kind in (
        ("encoding", str), ("delimiter", str), ("quotechar", str), ("header", bool),
        ("decimal_point", str), ("record", str), ("allow_empty", bool),
    ):  # fmt: skip
        if option in node and (value := typed(node, option, kind, where, problems)) is not None:
            values[option] = value
    for option, choices in (
        ("policy", POLICIES),
        ("recfm", RECFMS),
        ("empty_numeric", ("error", "null")),
    ):
        if option in node:
            if node[option] not in choices:
                problems.at(node, option, f"{where}.{option}", f"one of {', '.join(choices)}")
            else:
                values[option] = node[option]
    if "max_rejected" in node:
        value = typed(node, "max_rejected", int, where, problems)
        if value is not None and value < 0:
            problems.at(node, "max_rejected", f"{where}.max_rejected", "must be 0 or more")
        values["max_rejected"] = value
    values["key"] = _names(node, "key", where, problems)
    sort = node.get("sort", [])
    if isinstance(sort, list) and all(isinstance(s, (str, list)) for s in sort):
        values["sort"] = tuple(
            (s,) if isinstance(s, str) else tuple(str(c) for c in s) for s in sort
        )
    else:
        problems.at(node, "sort", f"{where}.sort", "a list of columns or of column lists")
    if "columns" in node:
        values["columns"] = _names(node, "columns", where, problems)
    types = node.get("types")
    if types is not None:
        if isinstance(types, Located) and all(isinstance(v, str) for v in types.values()):
            values["types"] = tuple((str(k), v) for k, v in types.items())
        else:
            problems.at(node, "types", f"{where}.types", "a mapping of column: type")
    if fmt == "csv" and values.get("header") is False and "columns" not in values:
        problems.at(node, "header", f"{where}.header", "without a header row, declare `columns`")
    if fmt == "fixed_width":
        layouts = [k for k in ("copybook", "layout") if k in node]
        if len(layouts) != 1:
            problems.at(node, "format", where, "give a `copybook` or a `layout` file (one)")
            return None
        text = typed(node, layouts[0], str, where, problems)
        if not text:
            return None
        values[layouts[0]] = str(_absolute(text, base_dir))
    return ExportConfig(**values)


def _names(node: Located, key: str, where: str, problems: Problems) -> tuple[str, ...]:
    value = node.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.at(node, key, f"{where}.{key}", "a column name or a list of column names")
        return ()
    return tuple(value)
