"""CSV value types: declared (`integer`, `decimal(12,2)`, `date`, ...) or inferred from a sample.

Parsing is strict: an integer is an optional sign and ASCII digits (spaces
around it allowed), a decimal the same with one decimal point (`decimal_point`
may be `,`) and at most the column's scale in decimals, a date is ISO
`YYYY-MM-DD`, a datetime ISO `YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]]`. An empty field
of a typed column is null; text keeps every character, and an empty text
field is the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from legacy_adapters.files.layout import MAX_INTEGER_DIGITS
from legacy_adapters.files.records import Column, ColumnType

DECLARABLE = ("text", "integer", "decimal", "date", "datetime")
_DECLARED = re.compile(r"\s*(\w+)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*", re.ASCII)
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
)


class TypeDeclarationError(ValueError):
    pass


def declared_column(name: str, declaration: str) -> tuple[Column, bool]:
    """The column a declaration like `decimal(12,2)` describes, and whether its scale is open.

    A `decimal` declared without a scale takes the largest scale of the sample.
    """
    match = _DECLARED.fullmatch(declaration.lower())
    kind = match.group(1) if match else None
    if kind not in DECLARABLE:
        raise TypeDeclarationError(
            f"column {name}: type must be one of {', '.join(DECLARABLE)} "
            f"(decimal may be decimal(p,s)), not {declaration!r}"
        )
    assert match is not None
    precision = int(match.group(2)) if match.group(2) else None
    scale = int(match.group(3)) if match.group(3) else 0
    if kind != "decimal" and precision is not None:
        raise TypeDeclarationError(f"column {name}: only decimal takes (precision, scale)")
    if precision is not None and scale > precision:
        raise TypeDeclarationError(f"column {name}: scale {scale} is larger than {precision}")
    if kind == "decimal":
        return Column(name, "decimal", precision=precision, scale=scale), match.group(3) is None
    return Column(name, kind), False  # type: ignore[arg-type]


def _decimals(text: str, point: str) -> int:
    dot = text.find(point)
    return 0 if dot < 0 else len(text.rstrip()) - dot - 1


def infer_column(name: str, values: Iterable[str], point: str = ".") -> Column:
    """The narrowest of integer, decimal, date and text that every non-empty value fits."""
    kinds = {"integer", "decimal", "date"}
    scale = 0
    seen = False
    for value in values:
        if not value.strip():
            continue
        seen = True
        if "integer" in kinds and not (
            _INTEGER.fullmatch(value) and len(value.strip(" +-")) <= MAX_INTEGER_DIGITS
        ):
            kinds.discard("integer")
        if "decimal" in kinds:
            if _parse_decimal(value, point, None) is None:
                kinds.discard("decimal")
            else:
                scale = max(scale, _decimals(value, point))
        if "date" in kinds and _parse_date(value) is None:
            kinds.discard("date")
        if not kinds:
            break
    if not seen:
        return Column(name, "text")
    if "integer" in kinds:
        return Column(name, "integer")
    if "decimal" in kinds:
        return Column(name, "decimal", scale=scale)
    if "date" in kinds:
        return Column(name, "date")
    return Column(name, "text")


def _parse_decimal(value: str, point: str, scale: int | None) -> Decimal | None:
    text = value.strip()
    if point != ".":
        if "." in text:
            return None
        text = text.replace(point, ".")
    if not text or not text.isascii() or "_" in text or text[-1:] == ".":
        return None
    if not (text.lstrip("+-").replace(".", "", 1).isdigit() and text[0] != "."):
        return None
    if scale is not None and _decimals(text, ".") > scale:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _parse_date(value: str) -> date | None:
    if not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


class ValueTypeError(ValueError):
    pass


def converter(column: Column, point: str = ".") -> Callable[[str], Any] | None:
    """A function str -> value raising `ValueTypeError`; None for text (kept as is)."""
    kind: ColumnType = column.type
    if kind == "text":
        return None
    if kind == "integer":

        def integer(value: str) -> int | None:
            if value.isdigit() and value.isascii() and len(value) <= MAX_INTEGER_DIGITS:
                return int(value)  # the common case, without the regular expression
            if not value:
                return None
            if _INTEGER.fullmatch(value) and len(value.strip(" +-")) <= MAX_INTEGER_DIGITS:
                return int(value)
            if not value.strip():
                return None
            raise ValueTypeError(f"{value!r} is not an integer")

        return integer
    if kind == "decimal":
        scale = column.scale

        def decimal(value: str) -> Decimal | None:
            if point == "." and value.isascii() and value.replace(".", "", 1).isdigit():
                dot = value.find(".")
                if dot < 0 or (0 < dot < len(value) - 1 and len(value) - dot - 1 <= scale):
                    return Decimal(value)  # the common case: digits with at most one point
            if not value or not value.strip():
                return None
            parsed = _parse_decimal(value, point, scale)
            if parsed is None:
                if _parse_decimal(value, point, None) is not None:
                    raise ValueTypeError(f"{value!r} has more than {scale} decimals")
                raise ValueTypeError(f"{value!r} is not a decimal number")
            return parsed

        return decimal
    if kind == "date":

        def iso_date(value: str) -> date | None:
            if not value:
                return None
            parsed = _parse_date(value)
            if parsed is None:
                raise ValueTypeError(f"{value!r} is not a date (YYYY-MM-DD)")
            return parsed

        return iso_date
    if kind == "datetime":

        def iso_datetime(value: str) -> datetime | None:
            if not value:
                return None
            if _DATETIME.fullmatch(value):
                try:
                    return datetime.fromisoformat(value)
                except ValueError:
                    pass
            raise ValueTypeError(f"{value!r} is not a datetime (YYYY-MM-DD HH:MM:SS)")

        return iso_datetime
    raise ValueError(f"CSV columns cannot be {kind}")


_INTEGER_CHARS = frozenset("0123456789+-\n")
_DECIMAL_CHARS = frozenset("0123456789+-.\n")
_DATE_CHARS = frozenset("0123456789-\n")


def column_converter(column: Column, point: str = ".") -> Callable[[Sequence[str]], Any] | None:
    """A function converting a whole column of a batch of rows at once, or None.

    It returns the list of values, or None when some value is not in the plain
    form it checks with a few scans of the joined column (then the rows are
    converted one by one by `converter`, which finds and names the bad value,
    and accepts the same values). Text columns need no conversion.
    """
    kind = column.type
    if kind == "integer":

        def integers(values: Sequence[str]) -> list | None:
            if not _INTEGER_CHARS.issuperset("\n".join(values)):
                return None
            if max(map(len, values)) > MAX_INTEGER_DIGITS:
                return None
            try:
                if "" in values:
                    return [int(v) if v else None for v in values]
                return list(map(int, values))
            except ValueError:
                return None

        return integers
    if kind == "decimal" and point == ".":
        too_fine = re.compile(f"\\.[0-9]{{{column.scale + 1}}}")

        def decimals(values: Sequence[str]) -> list | None:
            joined = "\n".join(values)
            if not _DECIMAL_CHARS.issuperset(joined) or too_fine.search(joined):
                return None
            if ".\n" in joined or joined.endswith(".") or ".." in joined:
                return None  # "1." (and what follows) is for the value-by-value check
            if "\n." in joined or joined.startswith(".") or "-." in joined or "+." in joined:
                return None
            try:
                if "" in values:
                    return [Decimal(v) if v else None for v in values]
                return list(map(Decimal, values))
            except InvalidOperation:
                return None

        return decimals
    if kind == "date":

        def dates(values: Sequence[str]) -> list | None:
            if not _DATE_CHARS.issuperset("\n".join(values)):
                return None
            if not {10, 0}.issuperset(map(len, values)):
                return None
            try:
                if "" in values:
                    return [date.fromisoformat(v) if v else None for v in values]
                return list(map(date.fromisoformat, values))
            except ValueError:
                return None

        return dates
    return None


__all__ = ["column_converter", "converter", "declared_column", "infer_column"]
