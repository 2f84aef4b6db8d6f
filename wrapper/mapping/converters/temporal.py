"""Legacy dates and times stored as digits, in an integer or a CHAR column
(`20261125`, `'1261125'`, `143005`). Native SQL dates and times are in
`native.py`: `date` and `time` here always mean digits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from wrapper.mapping.converters.base import (
    EQUALITY,
    ORDERED,
    ConversionError,
    Converter,
    MappingSpecError,
)

# format -> (parse legacy digits to (y, m, d), format (y, m, d) to digits, width, keeps order)
_DATE_FORMATS: dict[str, tuple[Callable[[int], tuple[int, int, int]], Callable, int, bool]] = {
    "YYYYMMDD": (lambda n: (n // 10000, n // 100 % 100, n % 100),
                 lambda d: d.year * 10000 + d.month * 100 + d.day, 8, True),
    "CYYMMDD": (lambda n: (1900 + n // 10000, n // 100 % 100, n % 100),
                lambda d: (d.year - 1900) * 10000 + d.month * 100 + d.day, 7, True),
    "YYMMDD": (lambda n: (_century(n // 10000), n // 100 % 100, n % 100),
               lambda d: d.year % 100 * 10000 + d.month * 100 + d.day, 6, False),
    "MMDDYY": (lambda n: (_century(n % 100), n // 10000, n // 100 % 100),
               lambda d: d.month * 10000 + d.day * 100 + d.year % 100, 6, False),
    "DDMMYYYY": (lambda n: (n % 10000, n // 10000 % 100, n // 1000000),
                 lambda d: d.day * 1000000 + d.month * 10000 + d.year, 8, False),
}  # fmt: skip


def _century(yy: int) -> int:
    return 1900 + yy if yy >= 50 else 2000 + yy


class _DigitsConverter(Converter):
    """Dates and times stored as digits, in an integer or a CHAR column."""

    memoize = True

    def __init__(self, width: int, storage: str, null_values: Sequence[Any]) -> None:
        self.width = width
        self.storage = storage
        self.null_values = tuple(self._stored(v) for v in null_values)
        self._null_numbers = {int(str(v).strip() or 0) for v in null_values}

    def _stored(self, value: Any) -> Any:
        """A number (or a sentinel) in the column's own representation."""
        if self.storage == "str":
            text = str(value)
            return text.zfill(self.width) if text.strip() else text
        return int(value)

    def _number(self, value: Any) -> int | None:
        """The legacy value as a number; None for NULL, blanks and sentinels."""
        if value is None:
            return None
        if isinstance(value, str):
            value = value.strip()
            if not value.isdigit():
                return None
        number = int(value)
        return None if number in self._null_numbers else number


class LegacyDateConverter(_DigitsConverter):
    """Dates stored as digits (`20261125`, `'1261125'`) <-> ISO 8601 `"2026-11-25"`."""

    kind = "date"

    def __init__(self, fmt: str, *, storage: str, null_values: Sequence[Any] = ()) -> None:
        if fmt not in _DATE_FORMATS:
            raise MappingSpecError(f"unknown date format {fmt!r}; use one of {list(_DATE_FORMATS)}")
        self.fmt = fmt
        self._split, self._join, width, keeps_order = _DATE_FORMATS[fmt]
        # Fixed-width zero-padded digits sort like the numbers they spell.
        self.capabilities = ORDERED if keeps_order else EQUALITY
        super().__init__(width, storage, null_values)

    def render(self, value: Any) -> Any:
        number = self._number(value)
        if number is None:
            return None
        y, m, d = self._split(number)
        if not (1 <= m <= 12 and 1 <= d <= 31):
            return None
        return f"{y:04d}-{m:02d}-{d:02d}"

    def parse(self, text: str) -> tuple[Any, ...]:
        try:
            date = dt.date.fromisoformat(text)
        except ValueError:
            raise ConversionError("is not a date in the form YYYY-MM-DD") from None
        if self.fmt == "CYYMMDD" and not 1900 <= date.year <= 2899:
            raise ConversionError("is outside the years the legacy format can hold")
        return (self._stored(self._join(date)),)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date"}

    def spec(self) -> Any:
        return _digits_spec("date", self.fmt, self.null_values)


class LegacyTimeConverter(_DigitsConverter):
    """Times stored as `HHMMSS` (or `HHMM`) digits <-> `"14:30:00"`."""

    kind = "time"
    capabilities = ORDERED

    def __init__(self, fmt: str, *, storage: str, null_values: Sequence[Any] = ()) -> None:
        if fmt not in ("HHMMSS", "HHMM"):
            raise MappingSpecError("time format must be HHMMSS or HHMM")
        self.fmt = fmt
        super().__init__(len(fmt), storage, null_values)

    def render(self, value: Any) -> Any:
        number = self._number(value)
        if number is None:
            return None
        if self.width == 4:
            number *= 100
        h, m, s = number // 10000, number // 100 % 100, number % 100
        if h > 23 or m > 59 or s > 59:
            return None
        return f"{h:02d}:{m:02d}:{s:02d}"

    def parse(self, text: str) -> tuple[Any, ...]:
        try:
            t = dt.time.fromisoformat(text)
        except ValueError:
            raise ConversionError("is not a time in the form HH:MM:SS") from None
        if t.tzinfo is not None or t.microsecond:
            raise ConversionError("is not a time in the form HH:MM:SS (no fraction, no offset)")
        number = t.hour * 10000 + t.minute * 100 + t.second
        if self.width == 4:
            if t.second:
                raise ConversionError("has seconds, which the legacy field does not hold")
            number //= 100
        return (self._stored(number),)

    def json_schema(self) -> dict[str, Any]:
        # Not JSON Schema's `time` format: RFC 3339 times carry an offset, these do not.
        seconds = "[0-5][0-9]" if self.width == 6 else "00"
        return {"type": "string", "pattern": f"^{_HOURS}:[0-5][0-9]:{seconds}$"}

    def spec(self) -> Any:
        return _digits_spec("time", self.fmt, self.null_values)


def _digits_spec(name: str, fmt: str, null_values: Sequence[Any]) -> Any:
    if not null_values:
        return {name: fmt}
    return {name: {"format": fmt, "null": list(null_values)}}


_HOURS = "(?:[01][0-9]|2[0-3])"
