"""A small mapping over the in-memory source, built without Flask or a database,
for tests of the pure steps (parse, plan, cursors, policy) and of the reader.

The tables are the compliance data set's (`tests/legacy_adapters/compliance/
dataset.py`): CHAR keys, an enum of CHAR codes (two codes share a name), a
YYYYMMDD date whose 0 means "no date", NULLs, a composite key, a keyless table
with exact duplicate rows, and foreign keys two levels deep (parts -> items ->
owners), which the row rules follow.
"""

from __future__ import annotations

import os
from collections.abc import Mapping as MappingOf
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from werkzeug.datastructures import MultiDict

from legacy_adapters.memory import MemorySource
from wrapper.config import Config, PagingConfig, parse_config
from wrapper.mapping.model import Mapping, Resource, build_mapping
from wrapper.pagination import Cursors
from wrapper.query import Query, parse_query
from wrapper.reader import Reader
from wrapper.translate import Planner

from ..legacy_adapters.compliance import dataset

MAPPING = """
source: {url: "sqlite://"}
paging: {default_limit: 10, max_limit: 100}
versions:
  v1:
    resources:
      owners:
        table: OWNERS
        scopes: owners:read
        fields:
          owner_id: {column: OWNER_ID, filter: true, sort: true, rows: {claim: owner, unless_scope: owners:all}}
          region: {column: REGION, filter: [eq, in], sort: true}
        relations:
          items: {resource: items, on: {owner_id: owner_id}}
      items:
        table: ITEMS
        scopes: {list: items:read, item: items:read}
        rows: {through: owner, unless_scope: items:all}
        fields:
          id: {column: ID, filter: true, sort: true}
          name: {column: NAME, filter: [eq, like, startswith, isnull], sort: true}
          qty: {column: QTY, filter: true, sort: true}
          price: {column: PRICE, convert: number, filter: true, scope: items:pricing}
          due: {column: DUE, convert: {date: {format: YYYYMMDD, null: [0]}}, filter: true, sort: true}
          code: {column: CODE, convert: {enum: {RN: running, RNX: running, HD: held, DN: done}}, filter: true}
          shipped: {column: SHIPPED, filter: true}
          owner_id: {column: OWNER_ID, filter: [eq, in, isnull]}
        relations:
          owner: {resource: owners, on: {owner_id: owner_id}, many: false}
          parts: {resource: parts, on: {id: item_id}}
      parts:
        table: PARTS
        scopes: parts:read
        rows: {through: item}
        fields:
          item_id: {column: ITEM_ID, filter: true, sort: true}
          line: {column: LINE, filter: true, sort: true}
          amount: {column: AMOUNT}
        relations:
          item: {resource: items, on: {item_id: id}, many: false}
          same: {resource: parts, on: {item_id: item_id, line: line}, many: false}
      dups:
        table: DUPS
        scopes: dups:read
        fields:
          a: {column: A, filter: true, sort: true}
          b: {column: B, filter: true}
"""


class StaticKeys:
    """One fixed cursor key, as a `KeyRing` holds them (no state database)."""

    KID = b"\x00\x00\x00\x01"

    def __init__(self, secret: bytes | None = None) -> None:
        self._cipher = AESSIV(secret or os.urandom(64))

    def current(self) -> tuple[bytes, AESSIV]:
        return self.KID, self._cipher

    def find(self, kid: bytes) -> AESSIV | None:
        return self._cipher if kid == self.KID else None


@dataclass(frozen=True)
class Plant:
    """The pieces of the read path over the in-memory source."""

    config: Config
    source: MemorySource
    mapping: Mapping
    cursors: Cursors
    planner: Planner
    reader: Reader

    @property
    def paging(self) -> PagingConfig:
        return self.config.paging

    def resource(self, name: str) -> Resource:
        found = self.mapping.resource("v1", name)
        assert found is not None, name
        return found

    def query(self, name: str, args: str | MultiDict = "", view: Resource | None = None) -> Query:
        """`args` as written in a URL (`status=running&sort=-due`)."""
        return parse_query(
            as_args(args), view or self.resource(name), self.paging, self.resource(name)
        )


def as_args(args: str | MultiDict) -> MultiDict:
    if isinstance(args, MultiDict):
        return args
    return MultiDict(parse_qsl(args, keep_blank_values=True))


def plant(text: str = MAPPING) -> Plant:
    config = parse_config(text, filename="plant.yaml")
    source = MemorySource(dataset.table_infos())
    schema = source.reflect()
    mapping = build_mapping(config, {name: schema for name in config.sources})
    cursors = Cursors(StaticKeys())  # type: ignore[arg-type]
    column_types = {t.ref: {c.name: c.python_type for c in t.columns} for t in schema.tables}
    planner = Planner(mapping, cursors, column_types)
    sources: MappingOf[str, Any] = {name: source for name in config.sources}
    return Plant(config, source, mapping, cursors, planner, Reader(sources, cursors))


def legacy_rows(table: str) -> list[dict[str, Any]]:
    """The data set's rows of `table` as {column: legacy value}."""
    ref = next(r for r in dataset.ROWS if r.name == table)
    names = [c.name for c in dataset.metadata.tables[table].columns]
    return [dict(zip(names, row, strict=True)) for row in dataset.ROWS[ref]()]
