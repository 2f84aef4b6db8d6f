"""Numbers: integers (within the column's own range), exact decimals, implied
decimal points and bit fields."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import orjson

from wrapper.mapping.converters.base import (
    EQUALITY,
    ORDERED,
    ConversionError,
    Converter,
    MappingSpecError,
    Unrenderable,
    decimal_json,
)

# Numbers in a query are written with ASCII digits only: int() and Decimal() would
# also take other scripts' digits, surrounding spaces and `_` separators.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
INT64 = (-(2**63), 2**63 - 1)


def parse_integer(text: str, low: int, high: int) -> int:
    if not _INTEGER.fullmatch(text):
        raise ConversionError("is not an integer (digits 0-9)")
    number = int(text, 10)
    if not low <= number <= high:
        raise ConversionError(f"is out of range for the legacy column ({low} to {high})")
    return number


class IntegerConverter(Converter):
    """Integers; a filter or key value outside the column's range is refused before
    it reaches the database (a key that cannot exist is a 404, not an error)."""

    kind = "integer"
    capabilities = ORDERED
    inline_type = int
    equal_alike = True  # int(value), and a fraction is refused

    def __init__(self, *, exact: bool = False, low: int = INT64[0], high: int = INT64[1]) -> None:
        self.low = low
        self.high = high
        if exact:  # the driver already returns int for this column
            self.inline = "{v}"

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bytes | bytearray):
            raise TypeError("bytes are not an integer")
        number = int(value)
        if number != value and not isinstance(value, str):
            raise Unrenderable(f"{value!r} is not a whole number")
        return number

    def parse(self, text: str) -> tuple[Any, ...]:
        return (parse_integer(text, self.low, self.high),)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer"}


class NumberConverter(Converter):
    """NUMERIC/DECIMAL/FLOAT columns; exact decimals stay exact in the JSON text.
    NaN and infinities have no JSON number: they are unrenderable (see rendering)."""

    kind = "number"
    capabilities = ORDERED

    def render(self, value: Any) -> Any:
        if value is None or type(value) is int:
            return value
        if isinstance(value, float):
            if value - value != 0:  # NaN or an infinity
                raise Unrenderable(f"{value} has no JSON number form")
            return value
        if isinstance(value, Decimal):
            return decimal_json(value)
        if isinstance(value, str):  # SQLite keeps text in a NUMERIC column as text
            return decimal_json(Decimal(value))
        raise TypeError(f"a {type(value).__name__} is not a number")

    def parse(self, text: str) -> tuple[Any, ...]:
        if not _DECIMAL.fullmatch(text):
            raise ConversionError("is not a number (digits 0-9, optional . and exponent)")
        number = Decimal(text)
        if not number.is_finite():
            raise ConversionError("is not a finite number")
        return (number,)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "number"}


class ImpliedDecimalConverter(Converter):
    """An integer with an implied decimal point: 12345 with scale 2 is 123.45."""

    memoize = True

    kind = "decimal"
    capabilities = ORDERED

    def __init__(self, scale: int, *, storage: str = "int") -> None:
        if not isinstance(scale, int) or not 0 <= scale <= 18:
            raise MappingSpecError("decimal scale must be an integer from 0 to 18")
        self.scale = scale
        self.factor = 10**scale
        self.storage = storage

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        number = int(value)
        if self.scale == 0:
            return number
        whole, frac = divmod(abs(number), self.factor)
        sign = "-" if number < 0 else ""
        return orjson.Fragment(f"{sign}{whole}.{frac:0{self.scale}d}".encode())

    def parse(self, text: str) -> tuple[Any, ...]:
        if not _DECIMAL.fullmatch(text):
            raise ConversionError("is not a decimal number (digits 0-9 and .)")
        number = Decimal(text)
        if not number.is_finite():
            raise ConversionError("is not a finite number")
        scaled = number * self.factor
        if scaled != scaled.to_integral_value():
            raise ConversionError(f"has more than {self.scale} decimal places")
        legacy = int(scaled)
        return (str(legacy) if self.storage == "str" else legacy,)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "number", "x-decimal-places": self.scale}

    def spec(self) -> Any:
        return {"decimal": self.scale}


class BitsConverter(Converter):
    """MySQL/MariaDB `BIT(n)` with n > 1: the bits as an unsigned integer (drivers
    return an integer or the big-endian bytes)."""

    kind = "bits"
    capabilities = EQUALITY
    memoize = True

    def __init__(self, width: int = 64) -> None:
        self.width = width

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bytes | bytearray):
            return int.from_bytes(value, "big")
        return int(value)

    def parse(self, text: str) -> tuple[Any, ...]:
        return (parse_integer(text, 0, 2**self.width - 1),)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": 0, "maximum": 2**self.width - 1}
