"""Walk every resource of a running app as a client would, and report what breaks.

For each resource of one API version, through the Flask test client:

- every list page, following ``next_cursor`` to the end: rows walked against
  ``SELECT COUNT(*)`` on the legacy table, duplicate keys, ``count=exact``, and
  per field the values served against ``COUNT(column)`` (a null served where
  the database has a value is a value lost, unless the field's converter
  declares "no value" sentinels);
- when the first walk fails, each field alone on a first page (which column
  type breaks it), then the walk again with the fields that work (``fields=``),
  so that what else breaks still shows;
- items by key (a spread sample, plus every key that is not plain letters and
  digits), each compared with its row in the list;
- each offered filter operator with a value taken from the walked rows; a
  filter that cannot match (``eq``, ``in``, ``lte``, ``gte``, ``like``,
  ``startswith``, ``isnull=true`` on a value that is there) must find a row,
  and ``like`` must find it with the letter case swapped too;
- each sortable field ascending and descending, walked to the end;
- ``expand`` on every relation, on a list page and on an item;
- every list page and item validated against the version's OpenAPI document
  with format checking.

Nothing is sent that a well-behaved client would not send, so every answer that
is not 2xx is a finding. Findings are grouped by kind and cause (the root
exception the app logged, else the problem's title and detail with quoted
values blanked) and keep the first example of each.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote, urlencode

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

FAILURES = (
    "5xx", "4xx", "wrong count", "duplicate keys", "walk did not end", "empty result",
    "like is case-sensitive", "item differs", "values lost", "schema", "no table",
)  # fmt: skip
# Quoted values with a digit or a space in them: data, not type or operator names.
_QUOTED = re.compile(r"'[^'\n]*[\d\s][^'\n]*'|\"[^\"\n]*[\d\s][^\"\n]*\"")
_DOC = "urn:legacy-wrapper:openapi"


@dataclass
class Finding:
    kind: str
    cause: str
    example: str
    what: str = ""  # the request that met it: "list", "filter like on UUID", ...
    count: int = 1


@dataclass
class ResourceWalk:
    name: str
    table: str
    expected_rows: int | None = None
    walked_rows: int | None = None
    statuses: Counter[str] = field(default_factory=Counter)
    findings: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    notes: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, cause: str, example: str, what: str = "") -> None:
        found = self.findings.get((kind, what, cause))
        if found is None:
            self.findings[(kind, what, cause)] = Finding(kind, cause, example, what)
        else:
            found.count += 1

    @property
    def clean(self) -> bool:
        return not self.findings

    @property
    def wrong_count(self) -> bool:
        return any(k in ("wrong count", "duplicate keys") for k, _, _ in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "table": self.table,
            "expected_rows": self.expected_rows,
            "walked_rows": self.walked_rows,
            "statuses": dict(self.statuses),
            "notes": dict(self.notes),
            "findings": [vars(f) for f in self.findings.values()],
        }


@dataclass(frozen=True)
class Offer:
    """What a resource offers a client, read from the running app's mapping."""

    key: tuple[str, ...]
    filters: dict[str, tuple[str, ...]]
    sortable: tuple[str, ...]
    relations: tuple[str, ...]
    column_types: dict[str, str]  # field -> legacy column type
    columns: dict[str, str]  # field -> legacy column
    sentinels: frozenset[str]  # fields whose converter turns declared legacy values into null


def offer(app: Flask, resource: Any) -> Offer:
    state = app.extensions["legacy_wrapper"]
    table = state.schemas[resource.source].table(resource.table)
    types = {}
    for f in resource.fields:
        column = table.column(f.column) if table is not None else None
        types[f.name] = column.type if column is not None else "?"
    return Offer(
        key=tuple(resource.key),
        filters={f.name: tuple(sorted(f.filter_ops)) for f in resource.fields if f.filter_ops},
        sortable=tuple(f.name for f in resource.fields if f.sortable),
        relations=tuple(r.name for r in resource.relations),
        column_types=types,
        columns={f.name: f.column for f in resource.fields},
        sentinels=frozenset(
            f.name
            for f in resource.fields
            if getattr(f.converter, "null_values", ()) or getattr(f.converter, "empty_as_null", 0)
        ),
    )


class _Capture(logging.Handler):
    """Keeps the warnings and errors the app logs while one request runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured_logs() -> Iterator[_Capture]:
    capture = _Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.removeHandler(capture)


def root_cause(record: logging.LogRecord) -> str:
    """The innermost exception behind a log record, as `Type: first line`."""
    error: BaseException | None = record.exc_info[1] if record.exc_info else None
    if error is None:
        args = record.args if isinstance(record.args, tuple) else ()
        error = next((a for a in args if isinstance(a, BaseException)), None)
    if error is None:
        return record.getMessage().splitlines()[0][:200]
    return root_cause_of(error)


def root_cause_of(error: BaseException) -> str:
    """The innermost exception of a chain, as `Type: first line`."""
    for _ in range(10):
        inner = error.__cause__ or error.__context__
        if inner is None:
            break
        error = inner
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:200]


def blank_values(text: str) -> str:
    """Quoted values blanked, so that causes group across rows and resources."""
    return _QUOTED.sub("'…'", text)


def query_text(value: Any) -> str:
    """A JSON value as a client writes it in a query string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _plain(text: str) -> bool:
    return text.isascii() and text.isalnum()


def swap_case(text: str) -> str:
    """Upper case to lower and back, letter by letter where that keeps one letter
    (`ß` stays `ß`: its upper case is `SS`, which no database compares equal)."""
    return "".join(c.swapcase() if len(c.swapcase()) == 1 else c for c in text)


def type_family(column_type: str) -> str:
    """`VARCHAR(60)` -> `VARCHAR`: causes group across lengths and precisions.
    SQLAlchemy names a type it does not know `NULL`."""
    family = re.sub(r"\(.*\)", "", column_type).strip() or "?"
    return "unrecognised type" if family == "NULL" else family


class Walker:
    """Walks the resources of one version of one app; see the module docstring."""

    def __init__(
        self,
        app: Flask,
        engine: sa.Engine,
        *,
        version: str = "v1",
        limit: int = 50,
        sort_limit: int = 200,
        max_items: int = 60,
    ) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.engine = engine
        self.version = version
        self.limit = limit
        self.sort_limit = sort_limit
        self.max_items = max_items
        self.mapping = app.extensions["legacy_wrapper"].mapping.versions[version]
        self.spec = self.client.get(f"/{version}/openapi.json").get_json()
        document = Resource(contents=self.spec, specification=DRAFT202012)
        self.registry: Registry = Registry().with_resource(_DOC, document)
        self._validators: dict[str, Draft202012Validator] = {}

    # ------------------------------------------------------------------ requests

    def _get(
        self, walk: ResourceWalk, what: str, path: str, params: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """One request; a non-2xx answer becomes a finding labelled `what`."""
        url = path + ("?" + urlencode(params) if params else "")
        with captured_logs() as logs:
            response = self.client.get(url)
        status = response.status_code
        walk.statuses[f"{status // 100}xx"] += 1
        try:
            body = json.loads(response.data, parse_float=Decimal)
        except ValueError:
            body = None
        if status >= 400:
            problem = body if isinstance(body, dict) else {}
            causes = [root_cause(r) for r in logs.records]
            if causes:
                cause = f"{status} {causes[-1]}"
            else:
                cause = f"{status} {problem.get('title', '')}: {problem.get('detail', '')}"
            cause = cause.replace(unquote(path), "<path>")
            example = f"GET {url} -> {status} {problem.get('detail', '')}"[:300]
            kind = "5xx" if status >= 500 else "4xx"
            walk.add(kind, blank_values(cause), example, what)
        return status, body

    def _validate(self, walk: ResourceWalk, the_offer: Offer, path: str, body: Any) -> None:
        validator = self._validator(path)
        if validator is None:
            return
        for error in validator.iter_errors(body):
            where = [p for p in error.absolute_path if isinstance(p, str)]
            column = ""
            if where and where[-1] in the_offer.column_types:
                column = f" ({type_family(the_offer.column_types[where[-1]])})"
            value = type(error.instance).__name__
            cause = f"{error.validator} {error.validator_value!r} rejects a {value}{column}"
            walk.add("schema", blank_values(cause), f"{path}: {error.message}"[:300])

    def _validator(self, path: str) -> Draft202012Validator | None:
        if path not in self._validators:
            try:
                response = self.spec["paths"][path]["get"]["responses"]["200"]
                ref = response["content"]["application/json"]["schema"]["$ref"]
            except KeyError:
                return None
            self._validators[path] = Draft202012Validator(
                {"$ref": _DOC + ref},
                registry=self.registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
        return self._validators[path]

    # ------------------------------------------------------------------ walking

    def walk_all(self) -> list[ResourceWalk]:
        return [self.walk(name) for name in sorted(self.mapping.resources)]

    def walk(self, name: str) -> ResourceWalk:
        resource = self.mapping.resources[name]
        walk = ResourceWalk(name, str(resource.table))
        the_offer = offer(self.app, resource)
        walk.expected_rows = self._count(walk, resource.table)
        path = f"/{self.version}/{name}"
        base: dict[str, str] = {}
        rows = self._walk_list(walk, the_offer, path, base, self.limit, "list")
        if rows is None:
            good = self._probe_fields(walk, the_offer, path)
            if good and len(good) < len(the_offer.column_types):
                # Walk on with the fields that render, to see what else breaks.
                base = {"fields": ",".join(good)}
                rows = self._walk_list(walk, the_offer, path, base, self.limit, "list (fields)")
        walk.walked_rows = None if rows is None else len(rows)
        if rows is not None and walk.expected_rows is not None:
            self._check_count(walk, rows, walk.expected_rows, the_offer.key, "")
            if len(rows) == walk.expected_rows:
                self._check_nulls(walk, the_offer, resource.table, rows)
        if not the_offer.key:
            walk.notes["list only: no key"] += 1
        for field_name, column in the_offer.columns.items():
            letters = sum(c.isalpha() for c in column)
            if not column.isascii() and sum(c.isalpha() for c in field_name) < letters:
                walk.notes[f"name lost letters: {column} -> {field_name}"] += 1
        self._count_exact(walk, path)
        sample = rows or []
        if the_offer.key:
            self._items(walk, the_offer, path, sample, base)
        for field_name, ops in the_offer.filters.items():
            self._filters(walk, the_offer, path, field_name, ops, sample, base)
        for field_name in the_offer.sortable:
            family = type_family(the_offer.column_types.get(field_name, "?"))
            for sort in (field_name, "-" + field_name):
                params = {**base, "sort": sort}
                what = f"sort{' descending' if sort[0] == '-' else ''} on {family}"
                sorted_rows = self._walk_list(walk, the_offer, path, params, self.sort_limit, what)
                if sorted_rows is not None and walk.expected_rows is not None:
                    how = f" sort={sort}"
                    self._check_count(walk, sorted_rows, walk.expected_rows, the_offer.key, how)
        for relation in the_offer.relations:
            self._get(walk, "expand", path, {**base, "expand": relation})
            if the_offer.key and sample:
                key = self._key_text(sample[0], the_offer.key)
                if key is not None:
                    item = f"{path}/{quote(key, safe='')}"
                    self._get(walk, "item expand", item, {**base, "expand": relation})
        return walk

    def _count(self, walk: ResourceWalk, ref: Any) -> int | None:
        table = sa.table(ref.name, schema=ref.schema)
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
        except sa.exc.DBAPIError as err:
            walk.add("no table", blank_values(root_cause_of(err)), f"COUNT(*) on {ref}")
            return None

    def _check_nulls(
        self, walk: ResourceWalk, the_offer: Offer, ref: Any, rows: list[dict[str, Any]]
    ) -> None:
        """A field shown as null more often than its column is NULL lost values silently
        (fields whose converter declares "no value" sentinels excepted)."""
        if not rows:
            return
        shown = [n for n in rows[0] if n in the_offer.columns and n not in the_offer.sentinels]
        if not shown:
            return
        table = sa.table(
            ref.name, *(sa.column(the_offer.columns[n]) for n in shown), schema=ref.schema
        )
        query = sa.select(*(sa.func.count(table.c[the_offer.columns[n]]) for n in shown))
        try:
            with self.engine.connect() as conn:
                in_database = conn.execute(query).one()
        except sa.exc.DBAPIError:
            return
        for name, values in zip(shown, in_database, strict=True):
            served = sum(r.get(name) is not None for r in rows)
            if served < values:
                family = type_family(the_offer.column_types.get(name, "?"))
                walk.add(
                    "values lost",
                    f"null served where the database has a value ({family})",
                    f"{walk.name}.{name}: {served} values served, {values} in the database",
                )

    def _probe_fields(self, walk: ResourceWalk, the_offer: Offer, path: str) -> list[str]:
        """After a failed first walk: each field alone on the first page; the ones
        that answer 2xx."""
        good = []
        for name, column_type in the_offer.column_types.items():
            what = f"list of {type_family(column_type)} alone"
            status, _ = self._get(walk, what, path, {"fields": name, "limit": str(self.limit)})
            if status == 200:
                good.append(name)
        return good

    def _walk_list(
        self,
        walk: ResourceWalk,
        the_offer: Offer,
        path: str,
        params: dict[str, str],
        limit: int,
        what: str,
    ) -> list[dict[str, Any]] | None:
        """Every page to the end; None when a page failed."""
        rows: list[dict[str, Any]] = []
        cursors: set[str] = set()
        max_pages = (walk.expected_rows or 0) // limit + 20
        query = {**params, "limit": str(limit)}
        for page in range(max_pages):
            label = what if page == 0 else f"{what}, next page"
            status, body = self._get(walk, label, path, query)
            if status != 200 or not isinstance(body, dict):
                return None
            if what.startswith("list"):
                self._validate(walk, the_offer, path, body)
            rows.extend(body.get("data") or [])
            cursor = body.get("next_cursor")
            if not cursor:
                return rows
            if cursor in cursors:
                walk.add("walk did not end", f"{what}: a cursor came back", path)
                return rows
            cursors.add(cursor)
            query = {**params, "limit": str(limit), "cursor": cursor}
        walk.add("walk did not end", f"{what}: more than {max_pages} pages", path)
        return rows

    def _check_count(
        self,
        walk: ResourceWalk,
        rows: list[dict[str, Any]],
        expected: int,
        key: tuple[str, ...],
        how: str,
    ) -> None:
        if len(rows) != expected:
            walk.add(
                "wrong count",
                f"walk{how and ' sorted'} returns {'more' if len(rows) > expected else 'fewer'}"
                " rows than COUNT(*)" + ("" if key else " (keyless)"),
                f"{walk.name}{how}: {len(rows)} rows walked, COUNT(*) {expected}",
            )
        if key:
            keys = Counter(tuple(json.dumps(r.get(k), default=str) for k in key) for r in rows)
            repeated = sum(n - 1 for n in keys.values() if n > 1)
            if repeated:
                walk.add(
                    "duplicate keys",
                    f"a key repeats in the walk{how and ' sorted'}",
                    f"{walk.name}{how}: {repeated} repeated keys",
                )

    def _count_exact(self, walk: ResourceWalk, path: str) -> None:
        status, body = self._get(walk, "count=exact", path, {"count": "exact", "limit": "1"})
        if status != 200 or not isinstance(body, dict) or walk.expected_rows is None:
            return
        if body.get("total_count") != walk.expected_rows:
            walk.add(
                "wrong count",
                "count=exact differs from COUNT(*)",
                f"{path}: total_count {body.get('total_count')}, COUNT(*) {walk.expected_rows}",
            )

    @staticmethod
    def _key_text(row: dict[str, Any], key: tuple[str, ...]) -> str | None:
        parts = []
        for name in key:
            value = row.get(name)
            if value is None or isinstance(value, dict | list):
                return None
            parts.append(query_text(value))
        if any("," in p for p in parts):
            return None  # a key value holding a comma is reached with filters
        return ",".join(parts)

    def _items(
        self,
        walk: ResourceWalk,
        the_offer: Offer,
        path: str,
        rows: list[dict[str, Any]],
        base: dict[str, str],
    ) -> None:
        step = max(1, len(rows) // self.max_items)
        chosen = set(range(0, len(rows), step)) | set(range(max(0, len(rows) - 5), len(rows)))
        for index, row in enumerate(rows):
            key = self._key_text(row, the_offer.key)
            if key is not None and not _plain(key.replace(",", "").replace("-", "")):
                chosen.add(index)  # every key a URL might mangle
            if any(isinstance(row.get(k), int) and abs(row[k]) >= 2**53 for k in the_offer.key):
                chosen.add(index)  # beyond what a double holds, or a signed 64-bit integer
        families = "+".join(type_family(the_offer.column_types.get(k, "?")) for k in the_offer.key)
        for index in sorted(chosen):
            row = rows[index]
            key = self._key_text(row, the_offer.key)
            if key is None:
                walk.notes["key not addressable (a comma, a null or a field left out)"] += 1
                continue
            url = f"{path}/{quote(key, safe='')}"
            what = f"item by {families} key" + (" (not plain)" if not _plain(key) else "")
            status, body = self._get(walk, what, url, base or None)
            if status != 200:
                continue
            self._validate(walk, the_offer, f"{path}/{{key}}", body)
            if body != row:
                differing = sorted(k for k in row if row.get(k) != (body or {}).get(k))
                walk.add(
                    "item differs", f"item by key differs from its list row in {differing}", url
                )

    def _filters(
        self,
        walk: ResourceWalk,
        the_offer: Offer,
        path: str,
        name: str,
        ops: tuple[str, ...],
        rows: list[dict[str, Any]],
        base: dict[str, str],
    ) -> None:
        values = [r.get(name) for r in rows if r.get(name) is not None]
        family = type_family(the_offer.column_types.get(name, "?"))
        has_null = any(r.get(name) is None for r in rows)
        if not values:
            if rows:
                walk.notes["filter without a value to try"] += 1
            return
        text = query_text(values[len(values) // 2])
        other = query_text(values[0])

        def ask(op: str, argument: str, must_find: bool) -> int:
            parameter = name if op == "eq" else f"{name}[{op}]"
            what = f"filter {op} on {family}"
            status, body = self._get(walk, what, path, {**base, parameter: argument})
            found = len(body.get("data") or []) if status == 200 and isinstance(body, dict) else 0
            if status == 200 and must_find and not found:
                walk.add(
                    "empty result",
                    f"{what} finds nothing for a value from the data",
                    f"GET {path}?{urlencode({parameter: argument})}",
                )
            return found

        for op in ops:
            if op == "in":
                ask(op, ",".join(t.replace(",", "\\,") for t in (text, other)), True)
            elif op == "isnull":
                ask(op, "true", has_null)
                ask(op, "false", True)
            elif op == "like":
                swapped = swap_case(text)
                if ask(op, text, True) and swapped != text and not ask(op, swapped, False):
                    walk.add(
                        "like is case-sensitive",
                        f"like with the letter case swapped finds nothing ({family})",
                        f"GET {path}?{urlencode({name + '[like]': swapped})}",
                    )
            elif op == "startswith":
                ask(op, text[: max(1, len(text) // 2)], True)
            else:
                ask(op, text, op in ("eq", "lte", "gte"))
