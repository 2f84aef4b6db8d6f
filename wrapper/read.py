"""The read path, in the order a request goes through it.

A view has already identified the caller and authorized the operation (an
`Access`); what is left reads top to bottom here: parse the query string
against the caller's view of the resource, plan the legacy reads (the page and
one child plan per `expand`, row rules included), execute them on the source
and render the rows. Responding (ETag, 304, shared cache) wraps this in
`caching.py`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

from werkzeug.datastructures import MultiDict

from wrapper.access import Access
from wrapper.config import PagingConfig
from wrapper.lru import LRU
from wrapper.mapping.model import Resource
from wrapper.query import parse_args, parse_item_query, parse_query
from wrapper.reader import Reader
from wrapper.translate import Plan, Planner

Body = tuple[Any, dict[str, str]]  # the JSON body and extra headers
Link = tuple[str, str]  # the next page's query string around its cursor
Planned = tuple[Access, MultiDict, Plan, Link]  # a kept plan, for the caller's grants


class ReadPath:
    def __init__(self, planner: Planner, reader: Reader, paging: PagingConfig) -> None:
        self.planner = planner
        self.reader = reader
        self.paging = paging
        self._links: LRU[tuple[tuple[str, str | None], ...], Link] = LRU(1024)
        self._planned: LRU[tuple[str, str, str, int], Planned] = LRU(4096)
        self._paged: LRU[tuple[str, str, str, int], Planned] = LRU(1024)  # with a cursor
        self._items: LRU[tuple[str, str, str, str, int], tuple[Access, Plan]] = LRU(4096)

    def list(
        self, resource: Resource, access: Access, args: MultiDict, link_base: str, path: str
    ) -> Body:
        return self._page(self._plan(resource, access, args), args, link_base, path)

    def list_query(
        self, resource: Resource, access: Access, query: str, link_base: str, path: str
    ) -> Body:
        """`list` for a raw (ASCII) query string: the parsed arguments and the plan
        are kept per query string and caller's grants, so a polled page is planned
        once. A cursor's plan is kept apart (a walk through many pages does not push
        polled pages out) and used again only while the cursor's key still opens it."""
        paged = "cursor" in query
        kept = self._paged if paged else self._planned
        key = (resource.version, resource.name, query, id(access))
        found = kept.get(key)
        if found is None or found[0] is not access or (paged and not self._cursor_open(found[1])):
            args = parse_args(query)
            plan = self._plan(resource, access, args)  # a bad cursor: 400, nothing kept
            found = kept.put(key, (access, args, plan, self._template(args)))
        return self._page(found[2], found[1], link_base, path, found[3])

    def _cursor_open(self, args: MultiDict) -> bool:
        cursor = args.get("cursor")
        return cursor is None or self.planner.cursors.key_open(cursor)

    def _plan(self, resource: Resource, access: Access, args: MultiDict) -> Plan:
        view = access.view(resource)
        query = parse_query(args, view, self.paging, resource)  # parse
        return self.planner.plan_list(view, query, access)  # plan

    def _page(
        self, plan: Plan, args: MultiDict, link_base: str, path: str, template: Link | None = None
    ) -> Body:
        page, unrendered = self.reader.page(plan)  # execute and render
        headers = _unrendered(unrendered)
        if page["next_cursor"]:
            following = self.next_query(args, page["next_cursor"], template)
            headers["Link"] = f'<{link_base}{path}?{following}>; rel="next"'
        return page, headers

    def next_query(self, args: MultiDict, cursor: str, template: Link | None = None) -> str:
        """The next page's query string: `args` (the first value of each name, in
        their order) with `cursor` where it was, or last; encoded as `urlencode`
        encodes a dict. Everything but the cursor is encoded once per shape (or
        given: a kept plan keeps its `template`)."""
        before, after = template or self._template(args)
        return before + quote_plus(cursor) + after

    def _template(self, args: MultiDict) -> Link:
        given = args.to_dict()
        shape = tuple((k, None if k == "cursor" else v) for k, v in given.items())
        if "cursor" not in given:
            shape += (("cursor", None),)
        template = self._links.get(shape)
        if template is None:
            hole = "\0"  # where the cursor goes (quote_plus never leaves a NUL)
            parts = [quote_plus(k) + "=" + (hole if v is None else quote_plus(v)) for k, v in shape]
            before, after = "&".join(parts).split(hole)
            template = self._links.put(shape, (before, after))
        return template

    def item(self, resource: Resource, access: Access, key: str, args: MultiDict) -> Body:
        return self._item(self._plan_item(resource, access, key, args), key)

    def item_query(self, resource: Resource, access: Access, key: str, query: str) -> Body:
        """`item` for a raw (ASCII) query string: the plan is kept per key, query
        string and caller's grants, so an item read again is planned once."""
        cache_key = (resource.version, resource.name, key, query, id(access))
        found = self._items.get(cache_key)
        if found is None or found[0] is not access:  # an id reused after eviction
            plan = self._plan_item(resource, access, key, parse_args(query))
            found = self._items.put(cache_key, (access, plan))
        return self._item(found[1], key)

    def _plan_item(self, resource: Resource, access: Access, key: str, args: MultiDict) -> Plan:
        view = access.view(resource)
        query = parse_item_query(args, view, resource)  # parse
        return self.planner.plan_item(view, key, query, access)  # plan

    def _item(self, plan: Plan, key: str) -> Body:
        item, unrendered = self.reader.item(plan, key)  # execute and render
        return item, _unrendered(unrendered)


def _unrendered(fields: tuple[str, ...]) -> dict[str, str]:
    """Fields served as null because a value could not be rendered (see
    `wrapper/mapping/rendering.py`), so a client can tell them from NULLs."""
    return {"Unrendered-Fields": ", ".join(dict.fromkeys(fields))} if fields else {}
