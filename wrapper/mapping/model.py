"""The mapping: configuration checked against the reflected schema.

This is the only place that knows both worlds: a `Resource` names modern
fields and the legacy columns behind them, with a converter per field. It is
built once at start (`build_mapping`) and never changes while serving.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingOf
from dataclasses import dataclass, field, replace
from typing import Any

from legacy_adapters.base import Schema, TableInfo, TableRef
from wrapper.config import (
    CaptureConfig,
    Config,
    ConfigError,
    ResourceCacheConfig,
    ResourceConfig,
    RowRuleConfig,
    VersionConfig,
)
from wrapper.mapping.converters import Converter, MappingSpecError, build_converter, column_type

WEBHOOKS_SCOPE = "webhooks:manage"  # the subscriptions API of every version


@dataclass(frozen=True)
class Field:
    name: str
    column: str
    converter: Converter
    filter_ops: frozenset[str]
    sortable: bool
    nullable: bool
    description: str | None = None
    scope: str | None = None  # extra scope a caller needs to see the field
    rows: RowRuleConfig | None = None  # rows visible only where this field == a claim


@dataclass(frozen=True)
class Relation:
    name: str
    target: str  # resource name in the same version
    local: tuple[str, ...]  # field names on this resource
    remote: tuple[str, ...]  # field names on the target
    many: bool


@dataclass(frozen=True)
class Resource:
    """A resource of one API version, or one caller's view of it (`view`): the view
    leaves out the fields and relations in `hidden`. Immutable; nothing in it is
    filled in while serving (planner and renderer keep their own bounded caches)."""

    name: str
    version: str
    source: str  # the name of the legacy source it reads
    table: TableRef
    fields: tuple[Field, ...]
    key: tuple[str, ...]  # field names; empty: list-only
    tiebreak: tuple[str, ...]  # legacy columns that make the order total
    unique_tiebreak: bool  # False: exact duplicate rows are possible
    relations: tuple[Relation, ...] = ()
    description: str | None = None
    scopes: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)  # op -> scopes
    cache: ResourceCacheConfig | None = None
    through: ThroughRule | None = None  # rows visible where a related row is
    hidden: frozenset[str] = frozenset()  # what this view leaves out of the resource
    events: CaptureConfig | None = None  # how its changes are captured (the first version's)
    # relations this resource has only in other versions: name -> those versions
    elsewhere: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    by_name: dict[str, Field] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({f.name: f for f in self.fields})

    @property
    def shape_key(self) -> tuple[str, str, frozenset[str]]:
        """Identifies this resource or view for caches of planned and rendered shapes."""
        return (self.version, self.name, self.hidden)

    def view(self, hidden: frozenset[str]) -> Resource:
        """A copy without the `hidden` fields and relations (and relations that need
        hidden fields)."""
        return replace(
            self,
            fields=tuple(f for f in self.fields if f.name not in hidden),
            relations=tuple(
                r for r in self.relations if r.name not in hidden and not set(r.local) & hidden
            ),
            hidden=self.hidden | hidden,
            by_name={},
        )

    def relation(self, name: str) -> Relation | None:
        return next((r for r in self.relations if r.name == name), None)


@dataclass(frozen=True)
class ThroughRule:
    """Rows of a resource are visible where its `relation`'s target row is visible,
    unless the caller holds `unless_scope`."""

    relation: str
    unless_scope: str | None = None


@dataclass(frozen=True)
class VersionMapping:
    name: str
    title: str
    description: str | None
    resources: dict[str, Resource]

    def declared_scopes(self) -> dict[str, str]:
        """Every scope the version's mapping declares, with what it grants."""
        scopes: dict[str, list[str]] = {}
        for res in self.resources.values():
            for operation, required in res.scopes.items():
                if operation == "item" and not res.key:
                    continue  # list-only resource
                for scope in required:
                    scopes.setdefault(scope, []).append(f"{operation} {res.name}")
            for f in res.fields:
                if f.scope:
                    scopes.setdefault(f.scope, []).append(f"see {res.name}.{f.name}")
                if f.rows and f.rows.unless_scope:
                    scopes.setdefault(f.rows.unless_scope, []).append(
                        f"every {res.name} row, whatever the {f.rows.claim} claim"
                    )
            if res.through and res.through.unless_scope:
                scopes.setdefault(res.through.unless_scope, []).append(
                    f"every {res.name} row, whatever its {res.through.relation}"
                )
        scopes.setdefault(WEBHOOKS_SCOPE, []).append("manage your webhook subscriptions")
        return {s: "; ".join(dict.fromkeys(grants)) for s, grants in sorted(scopes.items())}


@dataclass(frozen=True)
class Mapping:
    versions: dict[str, VersionMapping]

    def resource(self, version: str, name: str) -> Resource | None:
        v = self.versions.get(version)
        return v.resources.get(name) if v else None


def mapped_tables(config: Config, source: str) -> set[TableRef]:
    """The tables of `source` the configuration uses: the only ones reflected at serve time."""
    return {
        TableRef(r.table, r.schema)
        for v in config.versions
        for r in v.resources
        if r.source == source
    }


def build_mapping(config: Config, schemas: MappingOf[str, Schema]) -> Mapping:
    """Check the configuration against each source's schema; raise ConfigError naming
    every problem."""
    problems: list[str] = []
    versions = {v.name: _version(config, v, schemas, problems) for v in config.versions}
    _share_capture(config, versions, problems)
    if problems:
        raise ConfigError(problems)
    return Mapping(_with_relations_elsewhere(versions))


def _with_relations_elsewhere(versions: dict[str, VersionMapping]) -> dict[str, VersionMapping]:
    """Tells each resource which relations it has only in other versions, so that
    `expand` can say so instead of calling the relation unknown."""
    found: dict[str, dict[str, list[str]]] = {}  # resource -> relation -> versions
    for vm in versions.values():
        for res in vm.resources.values():
            for rel in res.relations:
                found.setdefault(res.name, {}).setdefault(rel.name, []).append(vm.name)
    for vm in versions.values():
        for name, res in list(vm.resources.items()):
            own = {r.name for r in res.relations}
            others = {
                rel: tuple(where) for rel, where in found.get(name, {}).items() if rel not in own
            }
            if others:
                vm.resources[name] = replace(res, elsewhere=others, by_name={})
    return versions


def _version(
    config: Config, version: VersionConfig, schemas: MappingOf[str, Schema], problems: list[str]
) -> VersionMapping:
    resources: dict[str, Resource] = {}
    for rc in version.resources:
        schema = schemas.get(rc.source or "")
        if schema is None:
            continue  # the configuration names no such source (reported while parsing)
        res = _resource(config, version.name, rc, schema, problems)
        if res is not None:
            resources[rc.name] = res
    for res in list(resources.values()):
        rc = next(r for r in version.resources if r.name == res.name)
        relations = tuple(
            rel
            for relc in rc.relations
            if (rel := _relation(config, version.name, res, relc, resources, problems))
        )
        resources[res.name] = replace(res, relations=relations, by_name={})
    for res in list(resources.values()):
        rc = next(r for r in version.resources if r.name == res.name)
        if rc.rows is not None:
            through = _through(config, version.name, res, rc, resources, problems)
            resources[res.name] = replace(res, through=through, by_name={})
    _refuse_through_cycles(config, version, resources, problems)
    return VersionMapping(version.name, version.title, version.description, resources)


def _through(
    config: Config,
    version: str,
    res: Resource,
    rc: ResourceConfig,
    resources: dict[str, Resource],
    problems: list[str],
) -> ThroughRule | None:
    assert rc.rows is not None
    where = f"{config.filename}:{rc.rows.line}: versions.{version}.resources.{res.name}.rows"
    relation = res.relation(rc.rows.relation)
    if relation is None:
        known = ", ".join(r.name for r in res.relations) or "none"
        problems.append(f"{where}.through: no relation {rc.rows.relation!r} (relations: {known})")
        return None
    target = resources[relation.target]
    if target.source != res.source:
        problems.append(
            f"{where}.through: {relation.target} is read from another source; a row rule "
            "can only follow a relation within one legacy database"
        )
        return None
    return ThroughRule(relation.name, rc.rows.unless_scope)


def _refuse_through_cycles(
    config: Config, version: VersionConfig, resources: dict[str, Resource], problems: list[str]
) -> None:
    for start in resources.values():
        seen, current = {start.name}, start
        while current.through is not None:
            relation = current.relation(current.through.relation)
            assert relation is not None
            current = resources[relation.target]
            if current.name in seen:
                problems.append(
                    f"{config.filename}: versions.{version.name}.resources.{start.name}.rows: "
                    f"row rules that follow relations go round in a circle ({current.name})"
                )
                break
            seen.add(current.name)


def _resource(
    config: Config, version: str, rc: ResourceConfig, schema: Schema, problems: list[str]
) -> Resource | None:
    path = f"versions.{version}.resources.{rc.name}"
    ref = TableRef(rc.table, rc.schema)
    table = schema.table(ref)
    if table is None:
        problems.append(
            f"{config.filename}:{rc.line}: {path}.table: table or view {ref} "
            "not found in the legacy database"
        )
        return None
    fields: list[Field] = []
    for fc in rc.fields:
        fpath = f"{path}.fields.{fc.name}"
        where = f"{config.filename}:{fc.line}: {fpath}"
        column = table.column(fc.column)
        if column is None:
            known = ", ".join(c.name for c in table.columns)
            problems.append(f"{where}: column {fc.column!r} not found in {ref} (columns: {known})")
            continue
        try:
            conv = build_converter(fc.convert, column, schema.dialect)
        except MappingSpecError as err:
            problems.append(f"{where}.convert: {err}")
            continue
        ops = conv.operators
        if fc.filter is True:
            filter_ops = frozenset(ops)
        elif fc.filter is False:
            filter_ops = frozenset()
        else:
            unsupported = [op for op in fc.filter if op not in ops]
            if unsupported:
                problems.append(
                    f"{where}.filter: the {conv.kind} converter cannot translate "
                    f"{unsupported} faithfully (it allows {sorted(ops)})"
                )
            filter_ops = frozenset(op for op in fc.filter if op in ops)
        if fc.sort and not conv.sortable:
            problems.append(
                f"{where}.sort: {column.type} values cannot be sorted and paged faithfully "
                f"with the {conv.kind} converter"
            )
        if fc.rows and "eq" not in conv.operators:
            problems.append(f"{where}.rows: {conv.kind} values cannot be compared with a claim")
        fields.append(
            Field(
                name=fc.name,
                column=column.name,
                converter=conv,
                filter_ops=filter_ops,
                sortable=fc.sort and conv.sortable,
                nullable=column.nullable or bool(conv.null_values),
                description=fc.description,
                scope=fc.scope,
                rows=fc.rows,
            )
        )
    by_column = {f.column: f.name for f in fields}
    known = len(problems)
    key, tiebreak, unique = _key(
        config, path, rc, table, fields, by_column, problems, schema.dialect
    )
    if not tiebreak and len(problems) == known:
        problems.append(
            f"{config.filename}:{rc.line}: {path}.key: {ref} has no key and no column that "
            "can be paged over (its types cannot be ordered); declare `key`"
        )
    return Resource(
        name=rc.name,
        version=version,
        source=rc.source or "",
        table=ref,
        fields=tuple(fields),
        key=key,
        tiebreak=tiebreak,
        unique_tiebreak=unique,
        description=rc.description,
        scopes=dict(rc.scopes),
        cache=rc.cache,
        events=_capture(config, path, rc, table, key, problems),
    )


# Legacy types a watermark can be compared and moved back by an overlap.
WATERMARK_TYPES = frozenset({"datetime", "date", "int", "decimal", "float"})


def _capture(
    config: Config,
    path: str,
    rc: ResourceConfig,
    table: TableInfo,
    key: tuple[str, ...],
    problems: list[str],
) -> CaptureConfig | None:
    events = rc.events
    if events is None:
        return None
    where = f"{config.filename}:{events.line}: {path}.events"
    if not key:
        problems.append(f"{where}: events need a key to name the changed row; declare `key`")
    if events.column is None:
        return events
    column = table.column(events.column)
    if column is None:
        known = ", ".join(c.name for c in table.columns)
        problems.append(
            f"{where}.column: column {events.column!r} not found in {table.ref} (columns: {known})"
        )
    elif column.python_type not in WATERMARK_TYPES:
        problems.append(
            f"{where}.column: {events.column} holds {column.type} values; {events.mode} "
            "capture needs a timestamp, a date or a number"
        )
    return events


def _share_capture(
    config: Config, versions: MappingOf[str, VersionMapping], problems: list[str]
) -> None:
    """Changes of a resource are captured once for every version that serves it:
    versions that declare `events` for it must read the same table the same way."""
    first: dict[str, Resource] = {}
    for version in versions.values():
        for res in version.resources.values():
            if res.events is None:
                continue
            seen = first.setdefault(res.name, res)
            same = (seen.source, seen.table) == (res.source, res.table)
            if not same or _declared(seen) != _declared(res):
                problems.append(
                    f"{config.filename}:{res.events.line}: versions.{version.name}.resources."
                    f"{res.name}.events: {seen.version} declares {res.name} events differently "
                    "(or over another table); declare them once, the same in every version"
                )


def _declared(res: Resource) -> tuple[object, ...]:
    e = res.events
    return (e.mode, e.column, e.overlap, e.interval) if e else ()


def _key(
    config: Config,
    path: str,
    rc: ResourceConfig,
    table: TableInfo,
    fields: list[Field],
    by_column: dict[str, str],
    problems: list[str],
    dialect: str = "generic",
) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    names = {f.name: f for f in fields}
    where = f"{config.filename}:{rc.line}: {path}.key"
    if rc.key:
        missing = [k for k in rc.key if k not in names]
        if missing:
            problems.append(f"{where}: key fields {missing} are not fields of this resource")
            return (), (), False
        return rc.key, tuple(names[k].column for k in rc.key), True
    if table.primary_key:
        unmapped = [c for c in table.primary_key if c not in by_column]
        if unmapped:
            problems.append(
                f"{where}: primary key columns {unmapped} of {table.ref} are not mapped; "
                "map them as fields or declare `key`"
            )
            return (), (), False
        return (
            tuple(by_column[c] for c in table.primary_key),
            table.primary_key,
            True,
        )
    unique = natural_key(table)
    if unique and all(c in by_column for c in unique):
        return tuple(by_column[c] for c in unique), unique, True
    # No key: list-only, paged over every column whose values sort and ride in a
    # cursor; exact duplicates (over those columns) are counted in the cursor.
    orderable = tuple(c.name for c in table.columns if column_type(c, dialect).cursor)
    return (), orderable, False


def natural_key(table: TableInfo) -> tuple[str, ...]:
    """A table's identity: its primary key, else the first unique index (or UNIQUE
    constraint) over columns that are all NOT NULL."""
    if table.primary_key:
        return table.primary_key
    for index in table.indexes:
        columns = [table.column(c) for c in index.columns]
        if index.unique and columns and all(c is not None and not c.nullable for c in columns):
            return index.columns
    return ()


def _relation(
    config: Config,
    version: str,
    resource: Resource,
    rc: Any,
    resources: dict[str, Resource],
    problems: list[str],
) -> Relation | None:
    path = f"versions.{version}.resources.{resource.name}.relations.{rc.name}"
    where = f"{config.filename}:{rc.line}: {path}"
    target = resources.get(rc.resource)
    if target is None:
        problems.append(f"{where}.resource: no resource {rc.resource!r} in {version}")
        return None
    local = tuple(a for a, _ in rc.on)
    remote = tuple(b for _, b in rc.on)
    bad = [f for f in local if f not in resource.by_name] + [
        f"{rc.resource}.{f}" for f in remote if f not in target.by_name
    ]
    if bad:
        problems.append(f"{where}.on: unknown fields {bad}")
        return None
    return Relation(rc.name, rc.resource, local, remote, rc.many)
