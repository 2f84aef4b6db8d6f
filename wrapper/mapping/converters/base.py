"""What every converter is: the contract, its errors and the JSON helpers they share.

- `render(legacy)` turns a value read from the legacy source into a JSON-ready
  value (called once per field per row: keep it cheap). A value it cannot
  render raises (any exception): the row renderer then serves the documented
  fallback (`wrapper/mapping/rendering.py`), the page still answers.
- `parse(text)` turns a value written in a query string (modern form) into the
  legacy value(s) that mean it: `"running"` -> `("RN",)`, `"2026-01-01"` ->
  `(20260101,)`. Several legacy values can mean one modern value (`Y` and `y`
  both mean true), so it returns a tuple.
- `capabilities` say which kinds of filter a converter can translate
  faithfully (`equality`, `order`, `pattern`, `null`); the operators registry
  (`wrapper/operators.py`) turns them into operators. The column's type can
  take capabilities away (`wrapper/mapping/converters/types.py`): `like` on an
  ENUM or a uuid column is never offered.
- `null_values` are legacy sentinels that mean "no value" (a date of 0).
- `spec()` is the declaration `init` writes for it, which the loader builds
  back into the same converter.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from wrapper.operators import Capability, operators_for

NULL_ONLY: frozenset[Capability] = frozenset({"null"})
EQUALITY: frozenset[Capability] = frozenset({"equality", "null"})
ORDERED: frozenset[Capability] = EQUALITY | {"order"}
TEXT: frozenset[Capability] = ORDERED | {"pattern"}


class ConversionError(ValueError):
    """A modern value that cannot be expressed in the legacy representation."""


class MappingSpecError(ValueError):
    """A converter declaration in the mapping file that makes no sense."""


class Unrenderable(ValueError):
    """A legacy value that has no faithful JSON form under this converter."""


class Converter:
    kind = "value"
    capabilities: frozenset[Capability] = EQUALITY
    null_values: tuple[Any, ...] = ()
    sortable = True
    # How row renderers may inline `render`: an expression on `{v}` (None: call it),
    # guarded by `inline_type` (values of another type go through `render`), and
    # whether results may be memoized (pure, on values that repeat).
    inline: str | None = None
    inline_type: type | None = None
    memoize = False
    # whether values equal under == (5, 5.0, Decimal("5.00")) always render alike;
    # true of every memoized converter (its memo is keyed by value)
    equal_alike = False

    @property
    def operators(self) -> frozenset[str]:
        """The filter operators this converter can translate faithfully."""
        return operators_for(self.capabilities)

    def render(self, value: Any) -> Any:
        return value

    def parse(self, text: str) -> tuple[Any, ...]:
        raise ConversionError("cannot be used in a filter")

    def json_schema(self) -> dict[str, Any]:
        return {}

    def spec(self) -> Any:
        """The mapping declaration that builds this converter (what `init` writes)."""
        return self.kind

    def restrict(self, capabilities: frozenset[Capability], sortable: bool) -> Converter:
        """Take away what the column's type cannot do (on this instance only)."""
        self.capabilities = self.capabilities & capabilities
        self.sortable = self.sortable and sortable
        return self

    def describe(self) -> tuple[Any, ...]:
        """Everything that decides behaviour: equal descriptions, same converter."""
        options = {
            k: v
            for k, v in vars(self).items()
            if not k.startswith("_") and not callable(v) and k not in ("capabilities", "sortable")
        }
        return (
            type(self).__name__,
            self.kind,
            tuple(sorted(self.capabilities)),
            self.sortable,
            tuple(self.null_values),
            json.dumps(self.json_schema(), sort_keys=True, default=str),
            json.dumps(options, sort_keys=True, default=repr),
        )


# ---------------------------------------------------------------------------- JSON


def decimal_json(value: Decimal) -> orjson.Fragment:
    """An exact decimal in the JSON text (`12.30` stays `12.30`)."""
    if not value.is_finite():
        raise Unrenderable(f"{value} has no JSON number form")
    return orjson.Fragment(format(value, "f").encode())


def finite(value: float) -> float:
    if not math.isfinite(value):
        raise Unrenderable(f"{value} has no JSON number form")
    return value


def json_value(value: Any) -> Any:
    """Any value a driver returns inside a container (array elements, JSON
    documents) as a JSON-ready value: integers of any size and decimals exact,
    dates and times in ISO 8601, bytes in base64, sets as sorted arrays."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**64 else orjson.Fragment(str(value).encode())
    if isinstance(value, float):
        return finite(value)
    if isinstance(value, Decimal):
        return decimal_json(value)
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(json_value(v) for v in value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise Unrenderable(f"a {type(value).__name__} has no JSON form")
