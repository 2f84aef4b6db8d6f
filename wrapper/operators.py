"""The one registry of filter operators.

An operator is written `?field[op]=value` (`eq` may be left out). Its entry
says everything the wrapper needs to know about it, so adding an operator
means adding one entry here (and its tests):

- `takes`: how the value is read from the query string (`one` value, a
  comma-separated `list` where `\\,` is a literal comma, or a `flag`);
- `needs`: the converter capability it requires (a converter declares which
  capabilities it can translate faithfully; see `mapping/converters.py`);
- `doc`: the text the OpenAPI documents show;
- `plan`: its translation into legacy conditions, given the field and the
  legacy values its converter produced (or the raw text for patterns and
  flags).

Every operator except `eq` and `in` (and `isnull`) also excludes the field's
"no value" sentinels, so `due_date[lt]=2026-01-01` never matches a date of 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from legacy_adapters.base import Condition, LegacyOp

if TYPE_CHECKING:
    from wrapper.mapping.model import Field

CONTROL_PARAMETERS = frozenset({"limit", "sort", "fields", "cursor", "expand", "count"})
"""Query parameters that are not filters (a field may not be named like one)."""

Capability = Literal["equality", "order", "pattern", "null"]
Takes = Literal["one", "list", "flag"]
Plan = Callable[["Field", Sequence[Any]], list[Condition]]


@dataclass(frozen=True)
class Operator:
    name: str
    takes: Takes
    needs: Capability
    doc: str  # "{field} ..." for the OpenAPI parameter description
    plan: Plan
    converts: bool = True  # values go through the field's converter first


def _single(op: LegacyOp, many: LegacyOp | None = None) -> Plan:
    """One legacy value -> `op`; several (a converter can map one modern value to
    several legacy ones) -> `many`, or refused."""

    def plan(field: Field, values: Sequence[Any]) -> list[Condition]:
        if len(values) == 1:
            return [Condition(field.column, op, values[0])]
        if many is None:
            raise ValueError(f"{op} needs a single legacy value")
        return [Condition(field.column, many, tuple(dict.fromkeys(values)))]

    return plan


def _in(field: Field, values: Sequence[Any]) -> list[Condition]:
    return [Condition(field.column, "in", tuple(dict.fromkeys(values)))]


def _isnull(field: Field, values: Sequence[Any]) -> list[Condition]:
    (flag,) = values
    return [Condition(field.column, "isnull", (flag, field.converter.null_values))]


def like_pattern(text: str) -> str:
    """The query-string pattern (`*` any run of characters) as an escaped LIKE pattern."""
    return escape_like(text).replace("*", "%")


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(field: Field, values: Sequence[Any]) -> list[Condition]:
    pattern = like_pattern(values[0])
    if getattr(field.converter, "fixed_length", False) and not pattern.endswith("%"):
        # CHAR(n) values carry trailing pad spaces on some databases.
        return [Condition(field.column, "like_rtrim", pattern)]
    return [Condition(field.column, "like", pattern)]


def _startswith(field: Field, values: Sequence[Any]) -> list[Condition]:
    return [Condition(field.column, "prefix", escape_like(values[0]) + "%")]


_IN_DOC = "{field} is one of (comma-separated; `\\,` is a comma)"
_LIKE_DOC = "{field} matches, ignoring case (`*` is a wildcard)"
_STARTS_DOC = "{field} starts with (compared as the legacy collation compares)"
_NULL_DOC = "{field} has no value (true) or has one (false)"

OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("eq", "one", "equality", "{field} equals", _single("eq", "in")),
        Operator("ne", "one", "equality", "{field} differs from", _single("ne", "not_in")),
        Operator("lt", "one", "order", "{field} is less than", _single("lt")),
        Operator("lte", "one", "order", "{field} is at most", _single("lte")),
        Operator("gt", "one", "order", "{field} is greater than", _single("gt")),
        Operator("gte", "one", "order", "{field} is at least", _single("gte")),
        Operator("in", "list", "equality", _IN_DOC, _in),
        Operator("like", "one", "pattern", _LIKE_DOC, _like, converts=False),
        Operator("startswith", "one", "pattern", _STARTS_DOC, _startswith, converts=False),
        Operator("isnull", "flag", "null", _NULL_DOC, _isnull, converts=False),
    )
}

KEEPS_SENTINELS = frozenset({"eq", "in", "isnull"})


def operators_for(capabilities: frozenset[str]) -> frozenset[str]:
    """The operators a converter with these capabilities can translate faithfully."""
    return frozenset(name for name, op in OPERATORS.items() if op.needs in capabilities)


_SPLIT = re.compile(r"(?<!\\),")


def split_list(text: str) -> tuple[str, ...]:
    r"""Split on commas not escaped as `\,`."""
    return tuple(p.replace("\\,", ",") for p in _SPLIT.split(text))


def read_values(operator: Operator, text: str) -> tuple[Any, ...] | None:
    """The value(s) written for `operator`; None when a flag is neither true nor false."""
    if operator.takes == "list":
        return split_list(text)
    if operator.takes == "flag":
        lowered = text.lower()
        return (lowered == "true",) if lowered in ("true", "false") else None
    return (text,)
