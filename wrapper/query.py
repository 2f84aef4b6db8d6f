"""Parse step: a query string -> a `Query` over modern fields (pure, no I/O).

Grammar::

    ?status=running                 equality
    ?due_date[gte]=2026-01-01       eq ne lt lte gt gte in like startswith isnull
    ?status[in]=running,held        a comma inside a value is written \\,
    ?name[like]=*GmbH*              * matches any run of characters
    ?sort=-due_date,job_id          - for descending
    ?fields=job_id,status           the fields to return
    ?limit=50  ?cursor=...  ?expand=lines  ?count=exact|estimate

Everything that is not understood is refused with a 400 problem naming the
parameter: a typo never silently returns every row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from werkzeug.datastructures import ImmutableMultiDict, MultiDict

from wrapper.config import PagingConfig
from wrapper.mapping.model import Resource
from wrapper.operators import CONTROL_PARAMETERS, OPERATORS, read_values
from wrapper.problems import InvalidParameter

_FILTER = re.compile(r"([a-z][a-z0-9_]*)(?:\[([a-z]+)\])?")  # fullmatch: `$` passes "x\n"
NO_ARGS: ImmutableMultiDict[str, str] = ImmutableMultiDict()
_DIGITS = re.compile(r"[0-9]+")  # int() also takes other scripts' digits, " 10" and "1_0"


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    values: tuple[str, ...]  # text as written; `in` has several
    parameter: str


@dataclass(frozen=True)
class ItemQuery:
    """What a single item takes: `fields` and `expand`."""

    fields: tuple[str, ...] | None = None
    expand: tuple[str, ...] = ()


@dataclass(frozen=True)
class Query:
    filters: tuple[Filter, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    fields: tuple[str, ...] | None = None
    limit: int = 50
    cursor: str | None = None
    expand: tuple[str, ...] = ()
    count: str | None = None  # "exact" | "estimate"


def parse_args(query: str) -> ImmutableMultiDict[str, str]:
    """An ASCII query string as werkzeug's `request.args` reads it (its decoding is
    the identity on ASCII; invalid percent escapes stay escaped)."""
    if not query:
        return NO_ARGS
    return ImmutableMultiDict(parse_qsl(query, keep_blank_values=True, errors="werkzeug.url_quote"))


def parse_query(
    args: MultiDict, resource: Resource, paging: PagingConfig, full: Resource | None = None
) -> Query:
    """`resource` is what the caller may see; `full` the whole resource, so that a
    relation the caller may not expand is told apart from one that does not exist."""
    filters: list[Filter] = []
    control: dict[str, str] = {}
    for name, values in args.lists():
        if len(values) > 1:
            hint = "" if name in CONTROL_PARAMETERS else f"; use {name.split('[')[0]}[in]=a,b"
            raise InvalidParameter(name, f"{name!r} is given more than once{hint}")
        if name in CONTROL_PARAMETERS:
            control[name] = values[0]
        else:
            filters.append(_filter(name, values[0], resource))
    return Query(
        filters=tuple(filters),
        sort=_sort(control.get("sort"), resource),
        fields=_fields(control.get("fields"), resource),
        limit=parse_limit(control.get("limit"), paging),
        cursor=_cursor(control.get("cursor")),
        expand=_expand(control.get("expand"), resource, full),
        count=_count(control.get("count")),
    )


def parse_item_query(
    args: MultiDict, resource: Resource, full: Resource | None = None
) -> ItemQuery:
    """Single items take only `fields` and `expand` (see `parse_query` for `full`)."""
    given: dict[str, str] = {}  # not `args.get`: a missing name raises inside werkzeug
    for name, values in args.lists():
        if name not in ("fields", "expand"):
            raise InvalidParameter(name, f"unknown parameter {name!r}; items take fields, expand")
        if len(values) > 1:
            raise InvalidParameter(name, f"{name!r} is given more than once")
        given[name] = values[0]
    return ItemQuery(
        _fields(given.get("fields"), resource), _expand(given.get("expand"), resource, full)
    )


def _filter(name: str, value: str, resource: Resource) -> Filter:
    match = _FILTER.fullmatch(name)
    if not match:
        raise InvalidParameter(name, f"unknown parameter {name!r}")
    field_name, op = match.group(1), match.group(2) or "eq"
    field = resource.by_name.get(field_name)
    if field is None:
        raise InvalidParameter(name, f"unknown parameter {name!r}: no field {field_name!r}")
    if not field.filter_ops:
        raise InvalidParameter(
            name, f"field {field_name!r} cannot be filtered on{_filterable(resource)}"
        )
    if op not in field.filter_ops:
        allowed = ", ".join(sorted(field.filter_ops))
        raise InvalidParameter(
            name, f"operator {op!r} is not available for {field_name!r} (use one of: {allowed})"
        )
    values = read_values(OPERATORS[op], value)
    if values is None:
        raise InvalidParameter(name, f"{op} takes true or false")
    return Filter(field_name, op, values, name)


def _not_empty(parameter: str, text: str) -> None:
    if not text:
        raise InvalidParameter(
            parameter, f"{parameter} is empty: name at least one, or leave {parameter} out"
        )


def _filterable(resource: Resource) -> str:
    names = [f.name for f in resource.fields if f.filter_ops]
    return f" (filterable fields: {', '.join(names)})" if names else ""


def _sort(text: str | None, resource: Resource) -> tuple[tuple[str, bool], ...]:
    if text is None:
        return ()
    _not_empty("sort", text)
    result: list[tuple[str, bool]] = []
    for item in text.split(","):
        descending = item.startswith("-")
        name = item[1:] if descending or item.startswith("+") else item
        field = resource.by_name.get(name)
        if field is None:
            raise InvalidParameter("sort", f"no field {name!r} to sort by")
        if not field.sortable:
            sortable = ", ".join(f.name for f in resource.fields if f.sortable) or "none"
            raise InvalidParameter(
                "sort", f"field {name!r} cannot be sorted on (sortable fields: {sortable})"
            )
        if all(n != name for n, _ in result):  # a repeat cannot change the order (SQL's rule)
            result.append((name, descending))
    return tuple(result)


def _fields(text: str | None, resource: Resource) -> tuple[str, ...] | None:
    if text is None:
        return None
    _not_empty("fields", text)
    names = tuple(text.split(","))
    for name in names:
        if name not in resource.by_name:
            raise InvalidParameter("fields", f"no field {name!r} in {resource.name}")
    if len(set(names)) != len(names):
        raise InvalidParameter("fields", "a field is listed twice")
    return names


def parse_limit(text: str | None, paging: PagingConfig) -> int:
    if text is None:
        return paging.default_limit
    if not _DIGITS.fullmatch(text):
        raise InvalidParameter("limit", "limit must be a whole number written with digits 0-9")
    limit = int(text)
    if not 1 <= limit <= paging.max_limit:
        raise InvalidParameter("limit", f"limit must be between 1 and {paging.max_limit}")
    return limit


def _cursor(text: str | None) -> str | None:
    if text is not None and not text:
        raise InvalidParameter("cursor", "cursor is empty")
    return text


def _expand(text: str | None, resource: Resource, full: Resource | None) -> tuple[str, ...]:
    if text is None:
        return ()
    _not_empty("expand", text)
    names = tuple(text.split(","))
    for name in names:
        if resource.relation(name) is not None:
            continue
        known = ", ".join(r.name for r in resource.relations) or "none"
        if full is not None and full.relation(name) is not None:
            raise InvalidParameter(
                "expand",
                f"these credentials may not expand {name!r} (relations you may expand: {known})",
            )
        where = (full or resource).elsewhere.get(name)
        if where:
            raise InvalidParameter(
                "expand",
                f"{name!r} is a relation of {resource.name} in {', '.join(where)}, "
                f"not in {resource.version} (relations here: {known})",
            )
        raise InvalidParameter("expand", f"no relation {name!r} (relations: {known})")
    return tuple(dict.fromkeys(names))


def _count(text: str | None) -> str | None:
    if text is None:
        return None
    if text in ("exact", "true"):
        return "exact"
    if text == "estimate":
        return "estimate"
    raise InvalidParameter("count", "count takes exact or estimate")
