"""Types without an order a cursor can follow (json/jsonb, xml, geometries,
tsvector, arrays of such) are never sorted or paged on: a query that asks is
refused as unsupported (the facade's 400), before any SQL is sent; a keyless
table's default order leaves them out (the mapping pages over the others)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures import types_zoo
from fixtures.databases import temporary_database
from legacy_adapters.base import Order, Select, TableRef, UnsupportedQuery
from legacy_adapters.sql import SQLAlchemySource

from ..conftest import require_backend

UNORDERED = {
    "postgresql": (TableRef("documents"), ("doc", "docb", "body", "location", "search")),
    "mariadb": (TableRef("scalars"), ("geom", "pt")),
}
ORDERED = {"postgresql": ("id", "tags", "scores", "payload"), "mariadb": ("id", "code", "tags")}


@pytest.fixture(scope="module", params=sorted(UNORDERED))
def zoo(request, tmp_path_factory) -> Iterator[SQLAlchemySource]:
    require_backend(request.param)
    with temporary_database(request.param, tmp_path_factory.mktemp("refusal")) as url:
        types_zoo.build(url)
        source = SQLAlchemySource(url)
        source.reflect(tables=[UNORDERED[request.param][0]])
        try:
            yield source
        finally:
            source.close()


def _backend(source: SQLAlchemySource) -> str:
    return "mariadb" if source.dialect == "mysql" else source.dialect


def test_sorting_on_a_type_without_an_order_is_refused(zoo: SQLAlchemySource) -> None:
    table, columns = UNORDERED[_backend(zoo)]
    for column in columns:
        for after in (None, ("x", 1)):
            query = Select(table, ("id",), (), (Order(column), Order("id")), after=after, limit=5)
            with pytest.raises(UnsupportedQuery, match=column):
                zoo.select(query)


def test_types_with_an_order_still_sort(zoo: SQLAlchemySource) -> None:
    table, _ = UNORDERED[_backend(zoo)]
    for column in ORDERED[_backend(zoo)]:
        rows = zoo.select(Select(table, ("id",), (), (Order(column), Order("id")), limit=5))
        assert len(rows) == 5, column
