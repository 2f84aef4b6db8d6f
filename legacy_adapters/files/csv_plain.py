"""Plain CSV text loaded without per-value Python work: validated by one regular expression.

Most exports are plain: no quote character, one record per line, numbers as
digits with an optional minus and point. For such a chunk of text one compiled
pattern checks every field of every line at once (the number of fields, and
each typed field's form), then each line is split on the delimiter and the
fields are bound as they are: SQLite's column affinity stores the text
`-12.50` in a `NUMERIC` column, or `0042` in an `INTEGER` one, as exactly the
same number as the `Decimal` or `int` the converters would give (see
`storage`), and the loader's insert stores an empty typed field as NULL. No
`Decimal`, `int` or `date` object is built.

A value is plain only where this is exact: integers of at most 18 digits,
decimals of at most 15 digits in all (so that a double keeps them exactly)
and at most the column's scale after the point, dates `YYYY-MM-DD` (then
checked as calendar dates). Anything else, a chunk with a quote character, a
lone carriage return or an undecodable byte, goes the general way (the `csv`
module and the converters), which accepts the same values and names the bad
ones.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import date

from legacy_adapters.files.layout import MAX_INTEGER_DIGITS
from legacy_adapters.files.records import Column, StorageRun
from legacy_adapters.files.storage import EXACT_DIGITS


class PlainText:
    """Checks and splits plain chunks of one CSV file (text after the header, whole lines)."""

    def __init__(
        self, columns: Sequence[Column], delimiter: str, specials: str, required: Collection[str]
    ) -> None:
        self.delimiter = delimiter
        self.specials = specials  # characters that make a chunk not plain
        delim = re.escape(delimiter)
        # Possessive quantifiers: a plain line is never re-read another way.
        self.pattern = _chunk([_field(c, delim, c.name in required) for c in columns], delim)
        # The same with every typed field required: a chunk it matches has no empty
        # typed field, so the insert need not look for one (`StorageRun.empty`).
        self.filled = _chunk([_field(c, delim, c.type != "text") for c in columns], delim)
        self.width = len(columns)
        self.dates = [i for i, c in enumerate(columns) if c.type == "date"]

    @classmethod
    def of(
        cls,
        columns: Sequence[Column],
        dialect: dict,
        decimal_point: str,
        required: Collection[str],
    ) -> PlainText | None:
        """The checker for these columns, or None when no chunk can be plain."""
        kinds = {c.type for c in columns}
        delimiter = dialect["delimiter"]
        if len(columns) < 2 or not kinds <= {"text", "integer", "decimal", "date"}:
            return None  # one column: a blank line would be a value
        if decimal_point != "." or delimiter in "\r\n.-0123456789":
            return None
        if any(c.type == "decimal" and c.scale >= EXACT_DIGITS for c in columns):
            return None
        specials = "\r\0" + (dialect["quotechar"] or "") + (dialect["escapechar"] or "")
        return cls(columns, delimiter, specials, required)

    def runs(self, text: str, size: int) -> list[StorageRun] | None:
        """The records of `text` in runs of `size`, or None when `text` is not plain."""
        if "\r" in text and text.count("\r") == text.count("\r\n"):
            text = text.replace("\r\n", "\n")
        if any(c in text for c in self.specials):
            return None
        empty = self.filled.fullmatch(text) is None
        if empty and not self.pattern.fullmatch(text):
            return None
        if text.endswith("\n"):
            text = text[:-1]
        # Every line has exactly `width` fields: split once, cut into runs of `size` records.
        fields = text.replace("\n", self.delimiter).split(self.delimiter)
        step = size * self.width
        runs = [
            StorageRun(fields[start : start + step], self.width, empty)
            for start in range(0, len(fields), step)
        ]
        if self.dates and not all(map(self._dates_valid, runs)):
            return None
        return runs

    def _dates_valid(self, run: StorageRun) -> bool:
        try:
            for i in self.dates:
                for value in run.values[i :: self.width]:
                    if value:
                        date.fromisoformat(value)
        except ValueError:
            return False
        return True


def _chunk(fields: list[str], delim: str) -> re.Pattern[str]:
    """Whole lines of these fields (each a pattern), the last one with or without its end."""
    line = delim.join(fields)
    return re.compile(f"(?:{line}\n)*+(?:{line})?+")


def _field(column: Column, delim: str, required: bool) -> str:
    kind = column.type
    if kind == "text":
        return f"[^{delim}\n]*+"
    if kind == "integer":
        pattern = f"-?[0-9]{{1,{MAX_INTEGER_DIGITS}}}"
    elif kind == "decimal":
        scale = column.scale
        pattern = f"-?[0-9]{{1,{EXACT_DIGITS - scale}}}"
        if scale:
            pattern += f"(?:\\.[0-9]{{1,{scale}}})?+"
    else:
        pattern = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
    return pattern if required else f"(?:{pattern})?+"


__all__ = ["PlainText"]
