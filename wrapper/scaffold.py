"""`legacy-wrapper init`: a starting mapping file written from reflection.

Every table and view becomes a read-only resource, readable with the scope
`<resource>:read`, with snake_case field names (non-ASCII letters
transliterated: `Schlüssel` -> `schluessel`, `Straße` -> `strasse`) and, per
column, the converter the type table chooses, written as the loader builds it
back. Filtering is allowed on the columns an index can serve, and sorting on
every column an index can deliver in order once the columns before it are fixed
by equality (an index on (work_center, due_date) serves
`work_center=WC03&sort=due_date`), if its type sorts at all. Foreign keys become
relations both ways: to-one on the referencing resource, to-many on the
referenced one. Names that would collide with a query control parameter
(`limit`, `sort`, ...) get a trailing underscore.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from anyascii import anyascii

from legacy_adapters.base import ForeignKeyInfo, Schema, TableInfo, TableRef
from wrapper.mapping.converters import column_type, infer_converter
from wrapper.mapping.model import natural_key
from wrapper.operators import CONTROL_PARAMETERS

# German letters as German writes them without umlauts (anyascii would drop the e).
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue",
                         "ß": "ss", "ẞ": "SS"})  # fmt: skip


def snake_case(name: str) -> str:
    text = anyascii(name.translate(_GERMAN))
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    if not text:
        text = "column"
    if not text[0].isalpha():
        text = "c_" + text
    return text


def _unique(name: str, taken: set[str]) -> str:
    if name in CONTROL_PARAMETERS:
        name += "_"
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _plural(name: str) -> str:
    if name.endswith("s"):
        return name
    if name.endswith("y") and len(name) > 1 and name[-2] not in "aeiou":
        return name[:-1] + "ies"
    if name.endswith(("x", "z", "ch", "sh")):
        return name + "es"
    return name + "s"


@dataclass
class _Written:
    """One resource as `init` writes it, while relations are added."""

    name: str
    table: TableInfo
    body: dict[str, Any]
    fields: dict[str, str]  # column -> field name
    taken: set[str]  # field and relation names
    relations: dict[str, Any] = field(default_factory=dict)
    comment: str = ""
    left_out: bool = False


def _ordered_columns(table: TableInfo) -> tuple[set[str], set[str]]:
    """(columns an index can serve in a filter, columns it can deliver in order):
    every column of an index (primary key and unique ones included), since the
    columns before it can be fixed by equality."""
    indexes: list[tuple[str, ...]] = [ix.columns for ix in table.indexes]
    if table.primary_key:
        indexes.append(table.primary_key)
    columns = {c for index in indexes for c in index}
    return columns, columns


def _resource(table: TableInfo, name: str, dialect: str) -> _Written:
    filterable, in_order = _ordered_columns(table)
    fields: dict[str, Any] = {}
    taken: set[str] = set()
    by_column: dict[str, str] = {}
    for col in table.columns:
        conv = infer_converter(col, dialect)
        spec: dict[str, Any] = {"column": col.name, "convert": conv.spec()}
        ops = conv.operators - {"isnull"}
        if col.name in filterable and ops:
            spec["filter"] = True
        if col.name in in_order and conv.sortable:
            spec["sort"] = True
        field_name = _unique(snake_case(col.name), taken)
        fields[field_name] = spec
        by_column[col.name] = field_name
    body: dict[str, Any] = {"table": table.ref.name}
    if table.ref.schema:
        body["schema"] = table.ref.schema
    kind = "view" if table.kind == "view" else "table"
    written = _Written(name, table, body, by_column, taken)
    key = natural_key(table)
    note = ""
    if key and not table.primary_key:
        body["key"] = [by_column[c] for c in key]
        note = f"; keyed by its unique index ({', '.join(key)})"
    elif not key:
        paged = [c.name for c in table.columns if column_type(c, dialect).cursor]
        if paged:
            note = "; no primary key: list only until `key` is declared"
            skipped = [c.name for c in table.columns if c.name not in paged]
            if skipped:
                written.comment = (
                    f"No key: pages are ordered by {', '.join(paged)}; "
                    f"{', '.join(skipped)} cannot be ordered. Declare `key` if the table has one."
                )
        else:
            written.left_out = True
            written.comment = (
                f"Left out: {table.ref} has no key, and none of its columns can be ordered "
                "to page over it. Declare `key` (fields whose values identify a row) and "
                "remove the # signs to serve it."
            )
    body["description"] = f"Legacy {kind} {table.ref}{note}."
    body["scopes"] = f"{name}:read"  # without scopes no token could read it
    body["fields"] = fields
    return written


def _to_one_name(fk: ForeignKeyInfo, source: _Written, target: _Written, twins: int) -> str:
    """`customer_id` -> `customer`; else the target's name, or `<target>_by_<columns>`
    when the table has several foreign keys to it."""
    fields = [source.fields[c] for c in fk.columns]
    if len(fields) == 1 and fields[0].endswith("_id") and len(fields[0]) > 3:
        stem = fields[0][:-3]
        if stem not in source.taken:
            return stem
    if twins == 1 and target.name not in source.taken:
        return target.name
    return f"{target.name}_by_{'_'.join(fields)}"


def _to_many_name(fk: ForeignKeyInfo, source: _Written, target: _Written, twins: int) -> str:
    """The referencing resource's name in the plural (`invoice_lines`), or
    `<plural>_by_<columns>` when it has several foreign keys to this table."""
    plural = _plural(source.name)
    if twins == 1 and plural not in target.taken:
        return plural
    return f"{plural}_by_{'_'.join(source.fields[c] for c in fk.columns)}"


def _add_relations(written: dict[TableRef, _Written]) -> None:
    for ref, source in written.items():
        if source.left_out:
            continue
        fks = source.table.foreign_keys
        for fk in fks:
            target_ref = TableRef(fk.referred_table, fk.referred_schema or ref.schema)
            target = written.get(target_ref) or written.get(TableRef(fk.referred_table))
            if target is None or target.left_out:
                continue
            if any(c not in target.fields for c in fk.referred_columns):
                continue
            twins = sum(
                1
                for other in fks
                if (other.referred_table, other.referred_schema)
                == (fk.referred_table, fk.referred_schema)
            )
            local = [source.fields[c] for c in fk.columns]
            remote = [target.fields[c] for c in fk.referred_columns]
            one = _unique(_to_one_name(fk, source, target, twins), source.taken)
            source.relations[one] = {
                "resource": target.name,
                "on": dict(zip(local, remote, strict=True)),
                "many": False,
            }
            many = _unique(_to_many_name(fk, source, target, twins), target.taken)
            target.relations[many] = {
                "resource": source.name,
                "on": dict(zip(remote, local, strict=True)),
                "many": True,
            }


def scaffold(schema: Schema, url: str, sources: dict[str, Any] | None = None) -> str:
    """The mapping text; `sources` replaces the `source: {url}` section (a files source)."""
    written: dict[TableRef, _Written] = {}
    taken: set[str] = set()
    for table in schema.tables:
        base = snake_case(table.ref.name)
        if base in taken and table.ref.schema:
            base = snake_case(f"{table.ref.schema}_{table.ref.name}")
        name = _unique(base, taken)
        written[table.ref] = _resource(table, name, schema.dialect)
    _add_relations(written)
    resources: dict[str, Any] = {}
    for item in written.values():
        if item.relations:
            item.body["relations"] = item.relations
        resources[item.name] = item.body
    section: dict[str, Any] = (
        {"sources": sources}
        if sources
        else {"source": {"url": url, "read_only": True, "pool_size": 5, "statement_timeout": 10}}
    )
    document = {
        **section,
        "paging": {"default_limit": 50, "max_limit": 1000},
        "versions": {"v1": {"title": "Legacy data API", "resources": resources}},
    }
    header = (
        "# Generated by `legacy-wrapper init` from the reflected schema. Edit it: rename\n"
        "# resources, fields and relations, drop what must stay hidden, declare legacy\n"
        "# converters (enum, date, decimal, boolean, text), keys and scopes.\n"
    )
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return header + _annotate(text, written.values())


def _annotate(text: str, written: Iterable[_Written]) -> str:
    """Comments above resources, and left-out resources commented out."""
    lines = text.splitlines()
    indent = "      "
    for item in written:
        if not item.comment:
            continue
        start = lines.index(f"{indent}{item.name}:")
        end = start + 1
        while end < len(lines) and lines[end].startswith(indent + " "):
            end += 1
        block = lines[start:end]
        if item.left_out:
            block = [f"{indent}# {line[len(indent) :]}" for line in block]
        comment = [f"{indent}# {part}" for part in _wrap(item.comment, 88)]
        lines[start:end] = comment + block
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int) -> list[str]:
    out, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*out, line] if line else out
