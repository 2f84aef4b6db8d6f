"""A legacy source made of file exports: each table is the newest export of its drop folder.

At start and then every `check_interval` seconds (a background thread; never
per request) each table's drop folder is listed. An export whose name, size or
modification time differs from the one served is read by its reader,
validated and loaded (`loader.load`) into a new generation file that holds
every table of the source (`generations.py`). Only once that file is complete
and checked do reads switch to it: a new SQL adapter over the new file
replaces the old one in one assignment, reads in flight finish on the old one,
and the old file stays on disk until the next switch (for `changes`). Reads
are the SQL adapter's, so filters, sorts, keyset cursors and counts run in
SQLite over the loaded indexes, exactly as for a SQL source.

A refused export (bad records under the `reject` policy, a file that cannot be
read, changed columns) leaves the previous generation serving; why it was
refused (file, record, byte offset, field) is in `status()`, which `/readyz`
and `/metrics` show, and in the log. The same export is not tried again until
it changes. Several worker processes share the store folder: a lock file
makes one load an export while the others wait, then adopt its generation;
a replaced generation file is deleted only once every process could have
switched (twice `check_interval`) and no read of this process holds it.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from legacy_adapters.base import Schema, Select, SourceUnavailable, TableRef
from legacy_adapters.files import generations
from legacy_adapters.files.exports import Export, ExportSpec, newest_export, open_reader
from legacy_adapters.files.layout import LayoutError
from legacy_adapters.files.loader import LoadRejected, load
from legacy_adapters.files.records import FileFormatError, RecordError
from legacy_adapters.sql import SQLAlchemySource
from legacy_adapters.sql.backends import backend_for

log = logging.getLogger(__name__)
SHOWN_ERRORS = 10  # record errors kept per refused export for /readyz


class _Unusable(Exception):
    """A generation file that does not hold a table its `lw_exports` lists."""


@dataclass(eq=False)
class _Generation:
    number: int
    path: Path
    sql: SQLAlchemySource
    exports: dict[str, dict]  # lw_exports rows by table
    readers: int = 0  # reads running on it
    retired: bool = False  # no longer current nor previous: closed once its reads end


@dataclass
class _TableState:
    """What `status()` tells of one table, besides the export it serves."""

    refused: tuple[str, int, int] | None = None  # identity of the export last refused
    last_error: dict[str, Any] | None = None
    rejected_total: int = 0  # bad records met over every load attempt
    waiting: bool = False  # no export in the drop folder yet
    quarantined: list[dict[str, Any]] = field(default_factory=list)


class FilesSource:
    """The `Source` of file exports; see the module docstring."""

    dialect = "sqlite"

    def __init__(
        self,
        exports: Sequence[ExportSpec],
        store: str | Path,
        *,
        check_interval: float | None = 60.0,
        pool_size: int = 5,
        pool_timeout: float = 5.0,
        statement_timeout: float | None = 10.0,
        max_errors: int = 100,
    ) -> None:
        self.store = Path(store)
        self.store.mkdir(parents=True, exist_ok=True)
        self.specs = {spec.table: spec for spec in exports}
        sqlite = backend_for(make_url("sqlite://")).capabilities(True)
        # "loaded_exports": columns have the export's storage types (a DBF or CSV
        # field is text, not CHAR(n)), NOT NULL only where the format cannot hold an
        # absent value, and no foreign keys.
        self.capabilities = replace(sqlite, extra=sqlite.extra | {"loaded_exports"})
        self._sql_options = {
            "pool_size": pool_size,
            "pool_timeout": pool_timeout,
            "statement_timeout": statement_timeout,
        }
        self.max_errors = max_errors
        # How long a replaced generation file stays for other processes still on it.
        self.grace = 2 * check_interval + (statement_timeout or 0) if check_interval else 0.0
        self._states = {table: _TableState() for table in self.specs}
        self._current: _Generation | None = None
        self._in_use: list[_Generation] = []  # retired generations with reads still running
        self._previous: _Generation | None = None
        self._unusable: set[int] = set()  # generation files that lack a table they list
        self._refreshing = threading.Lock()
        self._readers = threading.Lock()  # guards the switch and the readers' counts
        self._stop = threading.Event()
        self.refresh()
        self._watcher: threading.Thread | None = None
        if check_interval:
            self._watcher = threading.Thread(
                target=self._watch, args=(check_interval,), name="files-watch", daemon=True
            )
            self._watcher.start()

    # ------------------------------------------------------------------ Source

    def reflect(
        self,
        tables: Iterable[TableRef] | None = None,
        schemas: Sequence[str | None] = (None,),
    ) -> Schema:
        wanted = list(tables) if tables is not None else [TableRef(t) for t in self.specs]
        with self._reading() as gen:
            unloaded = [
                r.name for r in wanted if r.name in self.specs and r.name not in gen.exports
            ]
            if unloaded:
                raise SourceUnavailable(self._not_yet(unloaded))
            return gen.sql.reflect(wanted)

    def select(self, query: Select) -> list[tuple[Any, ...]]:
        with self._reading() as gen:
            return gen.sql.select(query)

    def count(self, query: Select, estimate: bool = False) -> tuple[int, bool]:
        with self._reading() as gen:
            return gen.sql.count(query, estimate)

    def ping(self) -> None:
        with self._reading() as gen:
            gen.sql.ping()

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=5)
        with self._refreshing:
            for gen in (self._current, self._previous):
                if gen is not None:
                    gen.sql.close()

    @contextmanager
    def _reading(self) -> Iterator[_Generation]:
        """The current generation, kept open and on disk until this read is done."""
        with self._readers:
            gen = self._serving()
            gen.readers += 1
        try:
            yield gen
        finally:
            with self._readers:
                gen.readers -= 1
                if gen.retired and gen.readers == 0:
                    self._dispose(gen)  # its file goes at the next collection

    def _serving(self) -> _Generation:
        gen = self._current
        if gen is None:
            raise SourceUnavailable(self._not_yet(list(self.specs)))
        return gen

    def _not_yet(self, tables: list[str]) -> str:
        where = ", ".join(f"{t} ({self.specs[t].path})" for t in tables)
        return f"no export has been loaded yet for {where}"

    # ------------------------------------------------------------------ exports

    def refresh(self) -> None:
        """Look at every drop folder once; load and switch to what changed."""
        with self._refreshing, self._store_lock():
            self._adopt_newest()
            for spec in self.specs.values():
                self._refresh_table(spec)
            self._collect()

    def _refresh_table(self, spec: ExportSpec) -> None:
        state = self._states[spec.table]
        export = newest_export(spec.path)
        state.waiting = export is None
        if export is None:
            return
        held = self._current.exports.get(spec.table) if self._current else None
        if held and (held["file"], held["size"], held["mtime_ns"]) == export.identity:
            state.refused = state.last_error = None  # a refused newer export was taken away
            return
        if state.refused == export.identity:
            return
        self._load(spec, export, state)

    def _load(self, spec: ExportSpec, export: Export, state: _TableState) -> None:
        numbers = [n for n, _ in generations.generations(self.store)]
        target = generations.generation_path(self.store, (numbers[-1] if numbers else 0) + 1)
        previous = self._current.path if self._current else None

        def complete(new_file: Path, report: Any) -> None:
            generations.complete(new_file, previous, spec.table, export, report)

        try:
            reader = open_reader(spec, export.path)
            if previous is not None:
                served = generations.served_columns(previous, spec.table)
                generations.check_columns([n for n, _ in served], [c.name for c in reader.columns])
            report = load(
                reader,
                target,
                table=spec.table,
                key=spec.key,
                indexes=_sort_indexes(spec),
                policy=spec.policy,  # type: ignore[arg-type]
                max_errors=self.max_errors,
                max_rejected=spec.max_rejected,
                allow_empty=spec.allow_empty,
                before_swap=complete,
            )
        except LoadRejected as exc:
            state.rejected_total += exc.report.records_rejected
            self._refuse(state, export, exc.reason, exc.report.errors, str(exc))
            return
        except (FileFormatError, LayoutError, generations.ColumnsChanged) as exc:
            self._refuse(state, export, str(exc), (), str(exc))
            return
        except (ValueError, LookupError, OSError) as exc:  # a layout or option that cannot work
            self._refuse(state, export, f"cannot read the export: {exc}", (), str(exc))
            return
        except (sqlite3.Error, RuntimeError) as exc:  # the new file failed its checks
            self._refuse(state, export, f"the loaded copy failed: {exc}", (), repr(exc))
            return
        state.rejected_total += report.records_rejected
        state.refused, state.last_error = None, None
        state.quarantined = [_shown(e) for e in report.errors[:SHOWN_ERRORS]]
        self._switch(target)
        log.info("files source table %s: %s", spec.table, report.summary())

    def _refuse(
        self,
        state: _TableState,
        export: Export,
        reason: str,
        errors: Sequence[RecordError],
        logged: str,
    ) -> None:
        state.refused = export.identity
        state.last_error = {
            "file": export.path.name,
            "at": _now(),
            "reason": reason.replace(str(export.path), export.path.name),
            "errors": [_shown(e) for e in errors[:SHOWN_ERRORS]],
        }
        log.error("export refused, the previous one keeps serving: %s", logged)

    # ------------------------------------------------------------------ generations

    def _adopt_newest(self) -> None:
        """Switch to a newer generation another process completed meanwhile; one
        that does not hold what it lists is left alone (the next load supersedes it)."""
        found = generations.generations(self.store)
        found = [(n, path) for n, path in found if n not in self._unusable]
        for n, path in found[-2:] if self._current is None else found[-1:]:
            # a restart: the previous one too, for changes
            if self._current is None or n > self._current.number:
                try:
                    self._switch(path)
                except _Unusable as exc:
                    self._unusable.add(n)
                    log.error("files source: generation left unused: %s", exc)

    def _switch(self, path: Path) -> None:
        number = int(path.stem.removeprefix("gen-"))
        exports = generations.exports_of(path)
        sql = SQLAlchemySource(f"sqlite:///{path}", read_only=True, **self._sql_options)
        present = [TableRef(t) for t in self.specs if t in exports]
        try:
            reflected = {t.ref for t in sql.reflect(present).tables} if present else set()
            missing = [r.name for r in present if r not in reflected]
            if missing:
                raise _Unusable(f"{path.name} lists {', '.join(missing)} but does not hold it")
        except BaseException:
            sql.close()
            raise
        with self._readers:
            retired, self._previous = self._previous, self._current
            self._current = _Generation(number, path, sql, exports)  # reads switch here
            if retired is not None:
                retired.retired = True
                if retired.readers == 0:
                    self._dispose(retired)
                else:
                    self._in_use.append(retired)  # closed by its last read
        self._collect()

    def _dispose(self, gen: _Generation) -> None:
        gen.sql.close()
        if gen in self._in_use:
            self._in_use.remove(gen)

    def _collect(self) -> None:
        """Delete generation files older than the previous one that no read of this
        process holds and that were replaced more than `grace` seconds ago: other
        processes switch at their next look, within `check_interval`."""
        with self._readers:
            held = {gen.number for gen in (self._current, self._previous, *self._in_use) if gen}
        keep = min(held) if held else 0
        found = generations.generations(self.store)
        now = time.time()
        for (n, old), (_, successor) in pairwise(found):
            if n >= keep or n in held:
                continue
            try:
                replaced = successor.stat().st_mtime
            except OSError:
                continue
            if now - replaced >= self.grace:
                old.unlink(missing_ok=True)

    @contextmanager
    def _store_lock(self) -> Iterator[None]:
        with open(self.store / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _watch(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception:  # the next look tries again; the current export keeps serving
                log.exception("files source: looking for new exports failed")

    # ------------------------------------------------------------------ changes and state

    def changes(self, table: str) -> generations.Changes:
        """Keys created, updated and deleted in `table` by the export now served,
        against the one served before (every key is created when there was none)."""
        with self._refreshing:
            current, previous = self._current, self._previous
        if current is None:
            raise SourceUnavailable(self._not_yet([table]))
        key = self.specs[table].key
        prev_path = previous.path if previous is not None else None
        if prev_path is not None and previous is not None:
            before, after = previous.exports.get(table), current.exports.get(table)
            if before is not None and after is not None and before == after:
                return generations.Changes([], [], [])
        return generations.changes(current.path, prev_path, table, key)

    def status(self) -> dict[str, Any]:
        """Per table: the export served (file, modified, loaded at, rows, rejected
        records) and why the last export was refused, if it was."""
        gen = self._current
        tables: dict[str, Any] = {}
        for table, state in self._states.items():
            held = gen.exports.get(table) if gen else None
            entry: dict[str, Any] = {"export": None}
            if held:
                modified = datetime.fromtimestamp(held["mtime_ns"] / 1e9, UTC)
                entry = {
                    "export": Path(held["file"]).name,
                    "modified_at": modified.isoformat(),
                    "loaded_at": held["loaded_at"],
                    "rows": held["rows_loaded"],
                    "records_rejected": held["records_rejected"],
                    "records_skipped": held["records_skipped"],
                    "age_seconds": round(time.time() - held["mtime_ns"] / 1e9, 3),
                }
                if state.quarantined:
                    entry["quarantined"] = state.quarantined
            entry["records_rejected_total"] = state.rejected_total
            entry["waiting_for_export"] = state.waiting
            entry["last_error"] = state.last_error
            tables[table] = entry
        return {"kind": "files", "generation": gen.number if gen else None, "tables": tables}


def _sort_indexes(spec: ExportSpec) -> list[tuple[str, ...]]:
    """An index per declared sort, ending with the key: keyset pages break ties on
    the key, so the index then delivers whole pages in order."""
    return [(*cols, *(k for k in spec.key if k not in cols)) for cols in spec.sort]


def _shown(error: RecordError) -> dict[str, Any]:
    """A record error for /readyz, which answers without credentials: where it is (the
    file by its name only), not what the record held; the log has the whole message."""
    shown = error.to_dict() | {"file": Path(error.file).name}
    del shown["message"]  # it may quote a value of the record
    return shown


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
