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

from legacy_adapters.files.records import Column, StorageRun

# The checker is also unpickled in the process that checks chunks ahead
# (`csv_ahead`): this module imports nothing heavy at its top, and the
# limits below come from `layout` and `storage` where patterns are made.


class PlainText:
    """Checks and splits plain chunks of one CSV file (text after the header, whole lines)."""

    def __init__(
        self, columns: Sequence[Column], delimiter: str, specials: str, required: Collection[str]
    ) -> None:
        from legacy_adapters.files.layout import MAX_INTEGER_DIGITS
        from legacy_adapters.files.storage import EXACT_DIGITS

        self.delimiter = delimiter
        self.specials = specials  # characters that make a chunk not plain
        delim = re.escape(delimiter)
        limits = (MAX_INTEGER_DIGITS, EXACT_DIGITS)
        # Possessive quantifiers: a plain line is never re-read another way.
        fields = [_field(c, delim, c.name in required, *limits) for c in columns]
        self.pattern = _chunk(fields, delim)
        # The same with every typed field required: a chunk it matches has no empty
        # typed field, so the insert need not look for one (`StorageRun.empty`).
        filled = [_field(c, delim, c.type != "text", *limits) for c in columns]
        self.filled = _chunk(filled, delim)
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
        from legacy_adapters.files.storage import EXACT_DIGITS

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
        empty = self.check(text, dates=False)
        if empty is None:
            return None
        fields = self._fields(text)
        if self.dates and not self._dates_valid(fields):
            return None
        return self._runs(fields, size, empty)

    def check(self, text: str, dates: bool = True) -> bool | None:
        """None when `text` is not plain, else whether a typed field of it is empty.

        `dates=False` leaves out the check that dates are calendar dates.
        """
        if "\r" in text:
            if text.count("\r") != text.count("\r\n"):
                return None  # a lone CR
            text = text.replace("\r\n", "\n")
        if any(c in text for c in self.specials):
            return None
        empty = self.filled.fullmatch(text) is None
        if empty and not self.pattern.fullmatch(text):
            return None
        if dates and self.dates and not self._dates_valid(self._fields(text)):
            return None
        return empty

    def split(self, text: str, size: int, empty: bool) -> list[StorageRun]:
        """The records of `text`, which `check` found plain (dates too), in runs of `size`."""
        return self._runs(self._fields(text), size, empty)

    def _fields(self, text: str) -> list[str]:
        """Every line has exactly `width` fields: split once."""
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        if text.endswith("\n"):
            text = text[:-1]
        return text.replace("\n", self.delimiter).split(self.delimiter)

    def _runs(self, fields: list[str], size: int, empty: bool) -> list[StorageRun]:
        step = size * self.width
        return [
            StorageRun(fields[start : start + step], self.width, empty)
            for start in range(0, len(fields), step)
        ]

    def _dates_valid(self, fields: list[str]) -> bool:
        try:
            for i in self.dates:
                for value in fields[i :: self.width]:
                    if value:
                        date.fromisoformat(value)
        except ValueError:
            return False
        return True


def _chunk(fields: list[str], delim: str) -> re.Pattern[str]:
    """Whole lines of these fields (each a pattern), the last one with or without its end."""
    line = delim.join(fields)
    return re.compile(f"(?:{line}\n)*+(?:{line})?+")


def _field(column: Column, delim: str, required: bool, integer: int, exact: int) -> str:
    """One field's pattern; `integer`, `exact`: most digits of an integer, of a decimal."""
    kind = column.type
    if kind == "text":
        return f"[^{delim}\n]*+"
    if kind == "integer":
        pattern = f"-?[0-9]{{1,{integer}}}"
    elif kind == "decimal":
        scale = column.scale
        pattern = f"-?[0-9]{{1,{exact - scale}}}"
        if scale:
            pattern += f"(?:\\.[0-9]{{1,{scale}}})?+"
    else:
        pattern = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
    return pattern if required else f"(?:{pattern})?+"


__all__ = ["PlainText"]
