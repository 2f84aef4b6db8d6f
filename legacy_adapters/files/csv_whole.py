"""A plain CSV file read by SQLite itself (the `vsv` virtual table), checked alongside.

Binding values from Python costs more than SQLite's own insert: about 0.85 s
per ten million values, and splitting the text 0.25 s more. When a whole
file is plain, SQLite can read it itself: `sqlean.py` (the standard
`sqlite3` module built with the sqlean extensions) has `vsv`, a CSV virtual
table, and `INSERT INTO t SELECT ... FROM vsv` parses and inserts in C.

vsv reads bytes as UTF-8 and knows nothing of the loader's rules, so the
file is loaded this way only if, chunk by chunk as the loader cuts it
(`csv_reader._Lines`), every chunk is what `csv_plain.PlainText.check`
accepts (the field count, each typed field's plain form, dates, no quote,
escape, lone CR or NUL), holds no `"` either (vsv's quote), decodes in the
declared encoding and, unless that encoding is UTF-8, is ASCII (then its
bytes are the same in UTF-8). On such a file vsv yields exactly the fields
the general path splits, as text, which the insert stores the same way (an empty typed field is
made NULL after the insert, when the check saw one: `nulls_sql`).

`PlainFile.check` runs in a thread while the insert runs (SQLite releases
the GIL): if a chunk is not plain, the insert is interrupted and the loader
starts again the general way, which locates every bad record. The insert
ignores rows the table refuses; if it stored fewer rows than the check
counted records (a duplicate key), the loader starts again the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from legacy_adapters.files.csv_plain import PlainText
from legacy_adapters.files.records import Column

NOT_TYPED = ("text", "char", "bytes")
MIN_BYTES = 1 << 20  # smaller files are loaded the general way (this path's set-up is not free)
SOURCE = "lw_csv_source"


def connect(path: Path) -> Any | None:
    """A `sqlean` connection with the vsv extension, or None if it is not installed."""
    try:
        import sqlean
    except ImportError:
        return None
    sqlean.extensions.enable("vsv")
    return sqlean.connect(path, isolation_level=None)


@dataclass(frozen=True)
class PlainFile:
    """A CSV file that SQLite may read itself if `check` finds every chunk of it plain."""

    path: Path
    columns: tuple[Column, ...]
    plain: PlainText
    delimiter: str
    header: bool
    encoding: str
    utf8: bool
    chunks: Callable[[], Any]  # a fresh `_Lines` of the file
    drop_lines: Callable[[str, int], str | None]

    def source_sql(self) -> str:
        """The vsv table over the file, its columns named c0, c1, ..."""
        names = ", ".join(f"c{i}" for i in range(len(self.columns)))
        options = [
            f"filename='{self.path}'",
            f"header={'yes' if self.header else 'no'}",
            f"columns={len(self.columns)}",
            f"fsep='{self.delimiter}'" if self.delimiter != "\t" else "fsep='\\t'",
            f"schema='CREATE TABLE x({names})'",
        ]
        return f"CREATE VIRTUAL TABLE temp.{SOURCE} USING vsv({', '.join(options)})"

    def select_sql(self) -> str:
        """The fields as they are: an empty typed field is still '' (see `nulls_sql`)."""
        fields = ", ".join(f"c{i}" for i in range(len(self.columns)))
        return f"SELECT {fields} FROM temp.{SOURCE}"

    def nulls_sql(self, table: str, quote: Callable[[str], str]) -> str | None:
        """The update that makes empty typed fields NULL, as the general way's insert does.

        Run only when `check` saw an empty typed field: `nullif` in the insert
        itself would cost 0.25 s per million records of six typed columns.
        """
        typed = [quote(c.name) for c in self.columns if c.nullable and c.type not in NOT_TYPED]
        if not typed:
            return None
        sets = ", ".join(f"{name} = nullif({name}, '')" for name in typed)
        where = " OR ".join(f"{name} = ''" for name in typed)
        return f"UPDATE {table} SET {sets} WHERE {where}"

    def check(self, stop: threading.Event | None = None) -> tuple[int, bool] | None:
        """(records, whether a typed field is empty) if every chunk is plain, else None."""
        lines = self.chunks()
        skip = 1 if self.header else 0
        records = 0
        empty = False
        try:
            for text, dirty in lines.chunks():
                if stop is not None and stop.is_set():
                    return None
                if skip:
                    text, skip = self.drop_lines(text, skip), 0
                    if text is None:
                        return None
                if not text:
                    continue
                if dirty or '"' in text or not (self.utf8 or text.isascii()):
                    return None
                found = self.plain.check(text)
                if found is None:
                    return None
                empty |= found
                records += text.count("\n") + (not text.endswith("\n"))
        finally:
            lines.close()
        return records, empty


def usable(path: Path, header: bool, header_lines: int, delimiter: str, bom: bool) -> bool:
    """Whether vsv can read this file as the general path does, given plain chunks."""
    name = str(path)
    if "'" in name or '"' in name:
        return False
    if delimiter != "\t" and (delimiter in "'\"\\" or not delimiter.isprintable()):
        return False
    if header and header_lines != 1:
        return False  # vsv skips exactly one line
    if not header and bom:
        with open(path, "rb") as f:
            if f.read(3) == b"\xef\xbb\xbf":
                return False  # vsv would keep the mark in the first field
    return path.stat().st_size >= MIN_BYTES


__all__ = ["MIN_BYTES", "PlainFile", "connect", "usable"]
