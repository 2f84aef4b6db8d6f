"""Row rules and subscription filters, checked against a rendered row in Python.

The API turns a row rule (`customer_no in (claim values)`) or a query-string
filter into SQL through the field's converter. An event carries the row as
the API renders it, so here the same condition is checked on the rendered
value, with the same meaning:

- each value written (a claim value, a filter value) goes through the field's
  converter both ways, `render(parse(text))`, then through JSON, as event data
  does: `"C0001005"` on a padded `CHAR` field, `true` on a `Y`/`N` flag and
  `5` on a decimal field compare equal to what the row renders (`"C0001005"`,
  `true`, `5.00`);
- `eq` and `in` admit a row whose value is one of them; `ne` one that has a
  value and differs (SQL's `<>` is not true of NULL); a row without the field
  is never admitted.

Text compares exactly: a database whose collation ignores case would also let
`c0001005` match in SQL, but claims and filters are meant to be written as the
data is.

A subscription filter is written like the list endpoint's query string, with
the operators that compare values: `status=shipped&rush=true`,
`status[in]=shipped,closed`, `status[ne]=cancelled`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from wrapper.events.envelope import dumps, loads
from wrapper.events.errors import InvalidSubscription
from wrapper.mapping.converters import ConversionError
from wrapper.mapping.model import Field, Resource
from wrapper.operators import split_list

FILTER_OPERATORS = ("eq", "ne", "in")
_NAME = re.compile(r"([a-z][a-z0-9_]*)(?:\[([a-z]+)\])?")


def as_event_value(value: Any) -> Any:
    """A rendered value as event data holds it (after JSON, numbers as decimals)."""
    return loads(dumps(value))


def modern_values(field: Field, texts: Iterable[str]) -> tuple[Any, ...]:
    """What ``texts`` mean as rendered values of ``field``; `ConversionError` when
    one cannot be written in the legacy form at all."""
    result: list[Any] = []
    for text in texts:
        for legacy in field.converter.parse(text):
            value = as_event_value(field.converter.render(legacy))
            if value not in result:
                result.append(value)
    return tuple(result)


@dataclass(frozen=True)
class Condition:
    """`field` is (or, with ``negated``, is not) one of ``values``."""

    field: str
    values: tuple[Any, ...]
    negated: bool = False

    def admits(self, row: Mapping[str, Any]) -> bool:
        value = row.get(self.field)
        if value is None:
            return False
        return (value in self.values) != self.negated


def admits(conditions: Iterable[Condition], row: Mapping[str, Any]) -> bool:
    return all(c.admits(row) for c in conditions)


def parse_filter(text: str | None, resource: Resource) -> tuple[Condition, ...]:
    """A subscription filter as conditions on ``resource`` (the owner's view of it:
    a hidden field cannot be filtered on); `InvalidSubscription` naming `filter`."""
    if not text:
        return ()
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InvalidSubscription(
            "filter", "write it like a query string: status=shipped&rush=true"
        ) from None
    conditions: list[Condition] = []
    for name, value in pairs:
        match = _NAME.fullmatch(name)
        if match is None:
            raise InvalidSubscription("filter", f"{name!r} is not field or field[op]")
        field_name, op = match.group(1), match.group(2) or "eq"
        field = resource.by_name.get(field_name)
        if field is None:
            raise InvalidSubscription("filter", f"{resource.name} has no field {field_name!r}")
        if op not in FILTER_OPERATORS:
            raise InvalidSubscription(
                "filter", f"{name}: a filter compares with {', '.join(FILTER_OPERATORS)}"
            )
        if op not in field.filter_ops:
            raise InvalidSubscription(
                "filter", f"{resource.name}.{field_name} cannot be filtered with {op}"
            )
        texts = split_list(value) if op == "in" else (value,)
        try:
            values = modern_values(field, texts)
        except ConversionError as err:
            raise InvalidSubscription("filter", f"{name}: {err}") from None
        conditions.append(Condition(field_name, values, negated=op == "ne"))
    return tuple(conditions)
