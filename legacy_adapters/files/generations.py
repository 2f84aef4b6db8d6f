"""Generations: the SQLite files a files source serves, one per accepted export.

A files source keeps all its tables in one SQLite file, `gen-<n>.db` in its
store folder, so relations between its tables are joins in one database. When
a table's new export arrives, the loader writes it into a new file and, before
that file is swapped in (`complete`), the other tables are copied over from the
current generation (with their indexes), the loader's quarantine table is
renamed `lw_quarantine_<table>`, and `lw_exports` records which export file
each table holds. A generation is never written once it serves.

The previous generation stays on disk until the next one is in place, so the
changes between two exports of a table can be computed in SQL (`changes`).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from legacy_adapters.files import storage
from legacy_adapters.files.exports import Export
from legacy_adapters.files.loader import LoadReport

EXPORTS_TABLE = "lw_exports"
QUARANTINE_PREFIX = "lw_quarantine_"
_GEN = re.compile(r"^gen-(\d{6,})\.db$")
_quote = storage.DIALECT.identifier_preparer.quote


class ColumnsChanged(Exception):
    """A new export's columns are not the columns the table is served with."""


@dataclass(frozen=True)
class Changes:
    """Keys created, updated and deleted between two exports of a table."""

    created: list[tuple]
    updated: list[tuple]
    deleted: list[tuple]


def generation_path(store: Path, number: int) -> Path:
    return store / f"gen-{number:06d}.db"


def generations(store: Path) -> list[tuple[int, Path]]:
    """Complete generation files in `store`, oldest first."""
    found = []
    if store.is_dir():
        for path in store.iterdir():
            match = _GEN.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
    return sorted(found)


def exports_of(path: Path) -> dict[str, dict]:
    """`lw_exports` of a generation: per table, the export it holds."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = conn.execute(f"SELECT * FROM {EXPORTS_TABLE}")
        names = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor}
    except sqlite3.Error:
        return {}
    finally:
        conn.close()


def complete(
    new: Path, previous: Path | None, table: str, export: Export, report: LoadReport
) -> None:
    """Make the loader's new file a whole generation (see the module docstring).

    Raises `ColumnsChanged` when the table's columns differ from the previous
    generation's: the mapping was checked against those."""
    conn = sqlite3.connect(new, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        conn.execute(
            f"ALTER TABLE {storage.QUARANTINE_TABLE} RENAME TO {_quote(QUARANTINE_PREFIX + table)}"
        )
        conn.execute(
            f"CREATE TABLE {EXPORTS_TABLE} (table_name TEXT PRIMARY KEY, file TEXT, size INTEGER,"
            " mtime_ns INTEGER, loaded_at TEXT, rows_loaded INTEGER, records_rejected INTEGER,"
            " records_skipped INTEGER, checksum TEXT)"
        )
        conn.execute(
            f"INSERT INTO {EXPORTS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                table,
                str(export.path),
                export.size,
                export.mtime_ns,
                report.loaded_at.isoformat(),
                report.rows_loaded,
                report.records_rejected,
                report.records_skipped,
                report.checksum,
            ),
        )
        if previous is not None:
            conn.execute("ATTACH DATABASE ? AS prev", (str(previous),))
            _check_columns(conn, table)
            _carry_over(conn, table)
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE prev")
        else:
            conn.execute("COMMIT")
    finally:
        conn.close()


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    rows = conn.execute(f"PRAGMA {schema}.table_info({_quote(table)})").fetchall()
    return [(row[1], row[2]) for row in rows]


def served_columns(path: Path, table: str) -> list[tuple[str, str]]:
    """(name, declared type) of `table`'s columns in a generation; [] if it has none."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _columns(conn, "main", table)
    finally:
        conn.close()


def check_columns(before: Sequence, after: Sequence) -> None:
    """Raise `ColumnsChanged` when the columns (names, or (name, type)) differ."""
    if before and list(before) != list(after):
        gone = [_shown(c) for c in before if c not in after]
        new = [_shown(c) for c in after if c not in before]
        raise ColumnsChanged(
            f"the export's columns changed (no longer: {', '.join(gone) or '-'}; "
            f"new: {', '.join(new) or '-'}); the table keeps serving its previous export"
        )


def _shown(column: str | tuple[str, str]) -> str:
    return column if isinstance(column, str) else " ".join(column)


def _check_columns(conn: sqlite3.Connection, table: str) -> None:
    check_columns(_columns(conn, "prev", table), _columns(conn, "main", table))


def _carry_over(conn: sqlite3.Connection, table: str) -> None:
    """Every other table (and its quarantine, indexes and `lw_exports` row) from `prev`."""
    own = {table, QUARANTINE_PREFIX + table}
    objects = conn.execute(
        "SELECT type, name, tbl_name, sql FROM prev.sqlite_master WHERE sql IS NOT NULL"
    ).fetchall()
    tables = [
        (name, sql)
        for kind, name, _, sql in objects
        if kind == "table"
        and name not in own
        and name not in (EXPORTS_TABLE, storage.QUARANTINE_TABLE, storage.REPORT_TABLE)
    ]
    for name, sql in tables:
        conn.execute(sql)  # the table's own CREATE TABLE, as the loader wrote it
        conn.execute(f"INSERT INTO main.{_quote(name)} SELECT * FROM prev.{_quote(name)}")
    carried = {name for name, _ in tables}
    for kind, _, tbl_name, sql in objects:
        if kind == "index" and tbl_name in carried:
            conn.execute(sql)
    conn.execute(
        f"INSERT INTO main.{EXPORTS_TABLE} SELECT * FROM prev.{EXPORTS_TABLE}"
        " WHERE table_name != ?",
        (table,),
    )


def changes(current: Path, previous: Path | None, table: str, key: Sequence[str]) -> Changes:
    """Keys of `table` created, updated (any column differs) and deleted from the
    `previous` generation to `current`, computed in SQL over both files."""
    if not key:
        raise ValueError(f"table {table} has no key: its changes cannot be told apart")
    engine = sa.create_engine(f"sqlite:///file:{current}?mode=ro&uri=true")
    try:
        with engine.connect() as conn:
            cur = sa.Table(table, sa.MetaData(), autoload_with=conn)
            keys = [cur.c[name] for name in key]
            if (
                previous is None
                or not previous.exists()
                or table not in _prev_tables(conn, previous)
            ):
                rows = conn.execute(sa.select(*keys).order_by(*keys)).all()
                return Changes([tuple(r) for r in rows], [], [])
            prev = cur.to_metadata(sa.MetaData(), schema="prev")
            prev_keys = [prev.c[name] for name in key]
            created = sa.select(*keys).except_(sa.select(*prev_keys))
            deleted = sa.select(*prev_keys).except_(sa.select(*keys))
            differing = sa.select(*cur.c).except_(sa.select(*prev.c)).subquery()
            updated = sa.select(*(differing.c[name] for name in key)).where(
                sa.tuple_(*(differing.c[name] for name in key)).in_(sa.select(*prev_keys))
            )
            return Changes(*(_sorted(conn, stmt) for stmt in (created, updated, deleted)))
    finally:
        engine.dispose()


def _prev_tables(conn: sa.Connection, previous: Path) -> set[str]:
    conn.exec_driver_sql("ATTACH DATABASE ? AS prev", (str(previous),))
    rows = conn.exec_driver_sql("SELECT name FROM prev.sqlite_master WHERE type = 'table'")
    return {row[0] for row in rows}


def _sorted(conn: sa.Connection, stmt: sa.Select | sa.CompoundSelect) -> list[tuple]:
    return sorted(tuple(row) for row in conn.execute(stmt))
