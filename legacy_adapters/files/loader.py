"""Load an export into an indexed SQLite file and swap it in atomically.

`load(reader, target)` streams the reader's records into a new database file
next to the live one (`<target>.loading.<pid>`), in batches of `batch_rows`
records (inserted `GROUP_ROWS` to a statement) within one transaction (no
journal: a failed load's file is simply deleted), creates the declared
indexes after the rows are in, checks the result (row count, `PRAGMA
quick_check`), makes it durable (fsync) and renames it onto `target` with
`os.replace`. A connection opened before the swap keeps
reading the previous file until it reconnects; a connection opened after it
sees the complete new file. Nothing is ever written to the live file.

Bad records (decoding errors from the reader, key columns without a value,
duplicate keys, values SQLite cannot store exactly) are handled by `policy`:

- `reject` (default): the load fails with `LoadRejected`, the temporary file is
  removed and the previous file keeps serving. The file is read on after the
  first bad record, so the exception's report lists every bad record up to
  `max_errors` (then reading stops).
- `quarantine`: bad records go to the `lw_quarantine` table of the new file with
  their record number, line, byte offset, field, message and raw bytes
  (base64); the others load. `max_rejected` caps how many may be quarantined
  before the load is refused instead.

Records a format says to skip (deleted DBF records) are counted in
`records_skipped`. An export without any record is refused unless
`allow_empty`. Each loaded file carries its own `lw_load_report` row.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Generic, Literal, TypeVar

import sqlalchemy as sa

from legacy_adapters.files import csv_whole, storage
from legacy_adapters.files.records import (
    Column,
    FileFormatError,
    RecordError,
    RecordReader,
    StorageRun,
    storage_items,
)

Policy = Literal["reject", "quarantine"]
T = TypeVar("T")
BATCH_ROWS = 5000
GROUP_ROWS = 50  # rows an INSERT statement carries (fewer statements, same binding)
MAX_VARIABLES = 999  # bound values a statement may carry on any SQLite build
LOAD_CACHE_KIB = 32000  # page cache while inserting
SORT_CACHE_KIB = 2000  # page cache, and so sorter memory, while creating indexes
PAGE_BYTES = 16384  # the loaded file's pages: 10% faster loads, serving unchanged (bench/README)


@dataclass(frozen=True)
class LoadReport:
    source: str
    target: str
    table: str
    policy: Policy
    checksum: str  # sha256 of the source file, hex
    loaded_at: datetime  # UTC, when the load started
    duration_seconds: float
    rows_loaded: int
    records_rejected: int  # quarantined, or refused (reject)
    records_skipped: int  # records the format marks as not data (deleted DBF records)
    errors: tuple[RecordError, ...] = field(default=())  # the first `max_errors`
    swapped: bool = False

    def summary(self) -> str:
        state = "loaded" if self.swapped else "refused"
        return (
            f"{self.source}: {state}, {self.rows_loaded} rows, {self.records_rejected} "
            f"rejected, {self.records_skipped} skipped, {self.duration_seconds:.2f} s"
        )


class LoadRejected(Exception):
    """The export was not swapped in; `report.errors` says why (file, record, offset, field)."""

    def __init__(self, report: LoadReport, reason: str) -> None:
        lines = [f"{report.source}: {reason}"] + [str(e) for e in report.errors[:10]]
        if len(report.errors) > 10:
            lines.append(f"... and {report.records_rejected - 10} more")
        super().__init__("\n".join(lines))
        self.report = report
        self.reason = reason


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def loading_path(target: Path) -> Path:
    return target.with_name(f"{target.name}.loading.{os.getpid()}")


def load(
    reader: RecordReader,
    target: str | Path,
    *,
    table: str | None = None,
    key: Sequence[str] = (),
    indexes: Sequence[Sequence[str]] = (),
    policy: Policy = "reject",
    max_errors: int = 100,
    max_rejected: int | None = None,
    allow_empty: bool = False,
    batch_rows: int = BATCH_ROWS,
    before_swap: Callable[[Path, LoadReport], None] | None = None,
) -> LoadReport:
    """Load `reader` into `target` (a SQLite file) and swap it in; see the module docstring.

    `before_swap(new_file, report)` runs once the new file is complete and
    checked, while `target` still holds the previous export (to diff the two,
    for instance); if it raises, nothing is swapped and the exception propagates.
    """
    if policy not in ("reject", "quarantine"):
        raise ValueError("policy must be 'reject' or 'quarantine'")
    target = Path(target)
    columns = reader.columns
    names = [c.name for c in columns]
    table = table or reader.path.stem
    _check_names(table, names, key, indexes)
    started, clock = datetime.now(UTC), time.monotonic()
    checksum = _Background(file_checksum, reader.path)  # reads and hashes without the GIL
    temp = loading_path(target)
    temp.unlink(missing_ok=True)
    whole = _plain_file(reader, key)
    run = _Run(temp, reader, table, key, policy, max_errors, batch_rows, whole is not None)
    try:
        try:
            if not (whole is not None and run.whole and run.load_whole(whole)):
                if run.whole:  # begun the whole-file way: start afresh
                    run.close()
                    temp.unlink(missing_ok=True)
                    run = _Run(temp, reader, table, key, policy, max_errors, batch_rows)
                for item in storage_items(reader, key):
                    run.take(item)
                    if run.refused(max_rejected):
                        break
                run.flush()
        except FileFormatError as exc:
            run.fatal = exc.detail

        def report(swapped: bool) -> LoadReport:
            return LoadReport(
                source=str(reader.path),
                target=str(target),
                table=table,
                policy=policy,
                checksum=checksum.result(),
                loaded_at=started,
                duration_seconds=time.monotonic() - clock,
                rows_loaded=run.loaded if swapped else 0,
                records_rejected=run.rejected,
                records_skipped=run.skipped,
                errors=tuple(sorted(run.errors, key=lambda e: e.record)),
                swapped=swapped,
            )

        reason = run.refusal(max_rejected, allow_empty)
        if reason:
            raise LoadRejected(report(False), reason)
        run.finish(indexes, report(True))  # closes the file
        final = report(True)
        if before_swap is not None:
            before_swap(temp, final)
        _durable_replace(temp, target)
        return final
    finally:
        run.close()
        temp.unlink(missing_ok=True)


def _plain_file(reader: RecordReader, key: Sequence[str]) -> csv_whole.PlainFile | None:
    """The file for SQLite to read itself (`csv_whole`), if the reader offers it."""
    method = getattr(reader, "plain_file", None)
    return None if method is None else method(key)


def _check_names(
    table: str, names: list[str], key: Sequence[str], indexes: Sequence[Sequence[str]]
) -> None:
    if table in (storage.QUARANTINE_TABLE, storage.REPORT_TABLE):
        raise ValueError(f"{table} is the loader's own table name")
    for name in [*key, *(c for ix in indexes for c in ix)]:
        if name not in names:
            raise ValueError(f"{name} is not a column of the export (columns: {names})")


class _Run:
    """One load in progress: the temporary database and the counts."""

    def __init__(
        self,
        temp: Path,
        reader: RecordReader,
        table: str,
        key: Sequence[str],
        policy: Policy,
        max_errors: int,
        batch_rows: int,
        whole: bool = False,
    ) -> None:
        self.source = str(reader.path)
        self.path = temp
        self.locate = reader.locate
        columns = reader.columns
        self.policy = policy
        self.max_errors = max_errors
        self.batch_rows = batch_rows
        self.key = tuple(key)
        self.loaded = self.rejected = self.skipped = self.record = 0
        self.errors: list[RecordError] = []
        self.fatal: str | None = None
        self.metadata = sa.MetaData()
        self.data = storage.data_table(table, columns, key, self.metadata)
        self.quarantine = storage.quarantine_table(self.metadata)
        self.report_table = storage.report_table(self.metadata)
        self.adapt = storage.row_adapter(columns, key)
        self.columns = columns
        self.insert = storage.data_insert_sql(self.data, columns)
        self.group_rows = max(1, min(GROUP_ROWS, MAX_VARIABLES // len(columns)))
        # (grouped, single) OR IGNORE inserts, with or without looking for empty values
        self.inserts = {
            empty: tuple(
                storage.data_insert_sql(self.data, columns, ignore=True, rows=n, empty=empty)
                for n in (self.group_rows, 1)
            )
            for empty in (True, False)
        }
        self.batch_empty = False
        rowid = sa.column("rowid")
        self.last_rowid = storage.ddl(sa.select(sa.func.max(rowid)).select_from(self.data))
        self.delete_after = storage.ddl(sa.delete(self.data).where(rowid > sa.bindparam("last")))
        self.values: list[object] = []  # the batch's values, a record after the other
        self.batch_records: list[int] = []
        # `whole`: a connection that can read a CSV file itself, if there is one (csv_whole).
        db = csv_whole.connect(temp) if whole else None
        self.whole = db is not None
        if db is None:
            db = sqlite3.connect(temp, isolation_level=None)
        self.db: sqlite3.Connection | None = db
        db.execute(f"PRAGMA page_size={PAGE_BYTES}")
        db.execute("PRAGMA journal_mode=OFF")  # a new file: on failure it is thrown away
        db.execute("PRAGMA synchronous=OFF")  # made durable with fsync before the swap
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute(f"PRAGMA cache_size=-{LOAD_CACHE_KIB}")
        for t in (self.data, self.quarantine, self.report_table):
            db.execute(storage.ddl(sa.schema.CreateTable(t)))
        db.execute("BEGIN")

    # ------------------------------------------------------------------ whole file

    def load_whole(self, plain: csv_whole.PlainFile) -> bool:
        """Insert the file as SQLite reads it while a thread checks it; False: start afresh.

        False when a chunk is not plain (the insert is interrupted if it still
        runs) or when fewer rows went in than there are records (a duplicate
        key): the general way then locates each bad record. False too when
        the file changed while it was read twice (its size, time or inode):
        the rows inserted might not be the text checked.
        """
        db = self.db
        assert db is not None
        identity = _identity(plain.path)
        try:
            db.execute(plain.source_sql())
        except db.Error:
            return False  # vsv cannot read it: the general way will say why
        lock, stop = threading.Lock(), threading.Event()
        counted: list[tuple[int, bool] | None] = []
        inserting = [True]

        def check() -> None:
            counted.append(plain.check(stop))
            if counted[0] is None:
                with lock:
                    if inserting[0]:
                        db.interrupt()

        checker = threading.Thread(target=check, name="csv-check", daemon=True)
        checker.start()
        table = storage.DIALECT.identifier_preparer.format_table(self.data)
        before = db.total_changes
        inserted = None
        try:
            db.execute(f"INSERT OR IGNORE INTO {table} {plain.select_sql()}")
            inserted = db.total_changes - before
        except db.Error:
            pass  # interrupted, or the file could not be read: the general way tells
        finally:
            with lock:
                inserting[0] = False
            if inserted is None:
                stop.set()
            checker.join()
        if inserted is None or counted[0] is None or inserted != counted[0][0]:
            return False  # an interrupt may have rolled the transaction back: the file goes
        if _identity(plain.path) != identity:
            return False
        db.execute(f"DROP TABLE temp.{csv_whole.SOURCE}")
        nulls = plain.nulls_sql(table, storage.DIALECT.identifier_preparer.quote)
        if counted[0][1] and nulls:
            db.execute(nulls)
        self.loaded = self.record = inserted
        return True

    # ------------------------------------------------------------------ records

    def take(self, item: object) -> None:
        if type(item) is StorageRun:  # already what the insert binds
            self.batch_empty |= item.empty
            self.queue(item.values, len(item))
            return
        if type(item) is list:
            try:
                rows = list(map(self.adapt, item))
            except storage.StorageError:
                for row in item:
                    self.take(row)
                return
            self.queue(list(chain.from_iterable(rows)), len(rows))
            return
        if type(item) is tuple:
            try:
                row = self.adapt(item)
            except storage.StorageError as exc:
                self.record += 1
                self.bad_row(self.record, exc.field, str(exc))
                return
            self.queue(row, 1)
            return
        self.record += 1
        if item is None:
            self.skipped += 1
        elif isinstance(item, RecordError):
            self.bad(item)
        else:
            raise TypeError(f"a reader yielded {type(item).__name__}")

    def queue(self, values: Sequence[object], count: int) -> None:
        """Add `count` records' values (one after the other) to the batch."""
        start = self.record + 1
        self.record += count
        self.values += values
        self.batch_records += range(start, self.record + 1)
        if len(self.batch_records) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        """Insert the batch: `GROUP_ROWS` rows a statement, or row by row if some row is refused.

        The grouped statements ignore refused rows (`OR IGNORE`), so that none
        stops half-way; if fewer rows went in than were sent, the batch's rows
        (those past the table's last rowid before it) are deleted and the batch
        is inserted again row by row, which names each refused record.
        """
        if not self.batch_records:
            return
        db = self.db
        assert db is not None
        values, records, width = self.values, self.batch_records, len(self.columns)
        insert_group, insert_ignore = self.inserts[self.batch_empty]
        self.values, self.batch_records, self.batch_empty = [], [], False
        last = db.execute(self.last_rowid).fetchone()[0] or 0
        before = db.total_changes
        grouped = (len(records) - len(records) % self.group_rows) * width
        step = self.group_rows * width
        for start in range(0, grouped, step):
            db.execute(insert_group, values[start : start + step])
        db.executemany(insert_ignore, _rows(values[grouped:], width))
        if db.total_changes - before == len(records):
            self.loaded += len(records)
            return
        db.execute(self.delete_after, (last,))
        self.insert_each(_rows(values, width), records)

    def insert_each(self, batch: list[tuple], records: list[int]) -> None:
        """Row by row: a refused row (a duplicate key) is a located bad record."""
        assert self.db is not None
        pos = 0
        while pos < len(batch):
            before = self.db.total_changes
            try:
                self.db.executemany(self.insert, batch[pos:] if pos else batch)
                self.loaded += len(batch) - pos
                return
            except sqlite3.IntegrityError:
                done = self.db.total_changes - before
                self.loaded += done
                failed = pos + done
                values = ", ".join(
                    f"{c.name}={_shown(batch[failed][i], c)}"
                    for i, c in enumerate(self.columns)
                    if c.name in self.key
                )
                self.bad_row(
                    records[failed],
                    self.key[0] if len(self.key) == 1 else None,
                    f"duplicate key ({values}): an earlier record has the same key",
                )
                pos = failed + 1

    def bad_row(self, record: int, field: str | None, message: str) -> None:
        """A record the reader decoded but the table refuses; the reader says where it is."""
        offset, raw, line = self.locate(record)
        self.bad(RecordError(self.source, record, offset, field, message, raw, line))

    def bad(self, error: RecordError) -> None:
        self.rejected += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(error)
        if self.policy == "quarantine":
            assert self.db is not None
            self.db.execute(
                storage.insert_sql(self.quarantine),
                (
                    error.record,
                    error.line,
                    error.offset,
                    error.field,
                    error.message,
                    base64.b64encode(error.raw).decode("ascii"),
                ),
            )

    # ------------------------------------------------------------------ outcome

    def refused(self, max_rejected: int | None) -> bool:
        if self.policy == "reject":
            return self.rejected >= self.max_errors
        return max_rejected is not None and self.rejected > max_rejected

    def refusal(self, max_rejected: int | None, allow_empty: bool) -> str | None:
        if self.fatal:
            return self.fatal
        if self.policy == "reject" and self.rejected:
            return f"{self.rejected} bad record(s); the export was not loaded"
        if max_rejected is not None and self.rejected > max_rejected:
            return f"more than {max_rejected} bad records; the export was not loaded"
        if self.loaded == 0 and not allow_empty:
            return "no record loaded (allow_empty=True accepts an empty export)"
        return None

    def finish(self, indexes: Sequence[Sequence[str]], report: LoadReport) -> None:
        """Create the indexes, write the report row, commit; then check the file afresh.

        The index sort runs with SQLite's default page cache (`SORT_CACHE_KIB`),
        which also bounds the sorter's in-memory runs: small runs merged
        cost 0.35 s a million records where one 32 MB run cost 0.6 to 0.85 s.
        The count and `PRAGMA quick_check` run on a new connection to the
        committed file (what a reader will open): the same check, at half the
        cost of running it in the connection that wrote the file.
        """
        db = self.db
        assert db is not None
        db.execute(f"PRAGMA cache_size=-{SORT_CACHE_KIB}")
        for n, columns in enumerate(indexes, 1):
            index = sa.Index(f"ix_{self.data.name}_{n}", *(self.data.c[c] for c in columns))
            db.execute(storage.ddl(sa.schema.CreateIndex(index)))
        db.execute(
            storage.insert_sql(self.report_table),
            (
                report.source,
                report.checksum,
                report.loaded_at.isoformat(),
                self.data.name,
                report.rows_loaded,
                report.records_rejected,
                report.records_skipped,
                report.duration_seconds,
                report.policy,
            ),
        )
        db.execute("COMMIT")
        self.close()
        synced = _Background(_fsync, self.path)  # written out while it is checked
        check = sqlite3.connect(self.path, isolation_level=None)
        try:
            count = check.execute(
                storage.ddl(sa.select(sa.func.count()).select_from(self.data))
            ).fetchone()[0]
            if count != self.loaded:
                raise RuntimeError(f"loaded {self.loaded} rows but the table holds {count}")
            result = check.execute("PRAGMA quick_check").fetchone()[0]
            if result != "ok":
                raise RuntimeError(f"the new database file fails its check: {result}")
        finally:
            check.close()
            synced.result()

    def close(self) -> None:
        if self.db is not None:
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
            self.db = None


def _rows(values: list[object], width: int) -> list[tuple]:
    return list(zip(*[iter(values)] * width, strict=False))


def _shown(value: object, column: Column) -> str:
    """A key value in a message: numbers bare (a plain CSV field is still text), text quoted."""
    return str(value) if column.type in ("integer", "decimal", "float") else repr(value)


def loaded_report(target: str | Path) -> dict[str, object] | None:
    """The `lw_load_report` row of a loaded file (what it holds and since when), or None."""
    path = Path(target)
    if not path.exists():
        return None
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = conn.execute(storage.ddl(sa.select(storage.report_table(sa.MetaData()))))
        row = cursor.fetchone()
        names = [d[0] for d in cursor.description]
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return dict(zip(names, row, strict=True)) if row else None


def _identity(path: Path) -> tuple[int, ...]:
    """What changes when a file is written or replaced."""
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _Background(Generic[T]):
    """`function(*args)` in a thread (it should spend its time without the GIL)."""

    def __init__(self, function: Callable[..., T], *args: object) -> None:
        self._outcome: list = []
        self._thread = threading.Thread(target=self._run, args=(function, args), daemon=True)
        self._thread.start()

    def _run(self, function: Callable[..., T], args: tuple) -> None:
        try:
            self._outcome[:] = [True, function(*args)]
        except BaseException as exc:
            self._outcome[:] = [False, exc]

    def result(self) -> T:
        self._thread.join()
        ok, value = self._outcome
        if not ok:
            raise value
        return value


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _durable_replace(temp: Path, target: Path) -> None:
    _fsync(temp)  # already written out: cheap
    os.replace(temp, target)
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = [
    "LoadRejected",
    "LoadReport",
    "file_checksum",
    "load",
    "loaded_report",
    "loading_path",
]
