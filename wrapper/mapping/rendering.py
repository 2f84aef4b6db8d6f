"""Row renderers: one Python function per field selection, compiled at first use.

Rendering runs once per field per row, so it is the hottest code of a list
request. Instead of looping over (name, position, converter) triples, the
renderer is generated as straight-line code (as `dataclasses` generates
`__init__`): cheap conversions are written inline (`v and v.rstrip(" ")` for
padded CHAR), pure conversions of values that repeat (dates, codes, flags,
amounts) go through a bounded memo, anything else calls the converter. An
inlined expression is guarded by the type the driver returns for the column, so
a value of another type goes through the converter.

Nothing unrenderable fails a page: when a value defeats its converter (a SQLite
DATE column holding `25/11/2026`, a NaN, a type nobody declared), the page is
rendered again row by row and field by field, that value is served as null,
the field is named in the response's `Unrendered-Fields` header, and the first
failure per resource and field is logged with the row's key.

Rows repeat too: a dashboard polls the same rows, a portal pages the same
orders. A page's rows are kept rendered (`RowMemo`, by the legacy row itself)
when that is exact: every field's rendering is a function of the value's
equality class, i.e. its converter is memoized or normalizes (`equal_alike`),
or it is text guarded as `str` or None (5 and 5.0 are equal but a text field shows
"5" and "5.0"; -0.0 and 0.0, Decimal 1.0 and 1.00 are equal too, so plain
numbers never take this path). A hit hands out a copy of the kept dict.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from wrapper.lru import LRU
from wrapper.mapping.converters import Converter

if TYPE_CHECKING:
    from wrapper.mapping.model import Resource

log = logging.getLogger(__name__)

Renderer = Callable[[Sequence[Any]], dict[str, Any]]
PageRenderer = Callable[[Sequence[Sequence[Any]]], list[dict[str, Any]]]
KeyOf = Callable[[Sequence[Any]], str]
MEMO_SIZE = 65_536
ROW_MEMO_ROWS = 8192  # rendered rows kept per worker, all renderers together (~1 KB each)
REVIEW_ROWS = 2048  # rows a renderer renders between looks at how often they repeat
BYPASS_ROWS = 32_768  # rows rendered without keeping when fewer than half repeated
LOGGED_SIZE = 4096  # (resource, field) pairs already logged, per worker
_MISSING = object()
_TEXT = frozenset({str, type(None)})  # text values equal only to text (and None to None)


def _memoized(render: Callable[[Any], Any], memo: dict[Any, Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        result = render(value)
        if len(memo) < MEMO_SIZE:
            memo[value] = result
        return result

    return convert


def compile_renderer(fields: Sequence[tuple[str, int, Converter]]) -> Renderer:
    """A function turning a legacy row into the dict of `fields` (name, row position,
    converter). Field names are validated identifiers-like names (lower_snake_case)."""
    env: dict[str, Any] = {"MISSING": _MISSING}
    body: list[str] = []
    items: list[str] = []
    for i, (name, position, conv) in enumerate(fields):
        value = f"row[{position}]"
        if conv.inline is not None:
            body.append(f"    v{i} = {value}")
            inline = conv.inline.format(v=f"v{i}")
            if conv.inline_type is None:
                expr = inline
            else:  # a value of another type (or None) goes through the converter
                env[f"t{i}"], env[f"f{i}"] = conv.inline_type, conv.render
                expr = f"({inline} if type(v{i}) is t{i} else f{i}(v{i}))"
        elif conv.memoize:
            memo: dict[Any, Any] = {}
            env[f"m{i}"], env[f"c{i}"] = memo, _memoized(conv.render, memo)
            body += [
                f"    v{i} = {value}",
                f"    r{i} = m{i}.get(v{i}, MISSING)",
                f"    if r{i} is MISSING:",
                f"        r{i} = c{i}(v{i})",
            ]
            expr = f"r{i}"
        else:
            env[f"f{i}"] = conv.render
            expr = f"f{i}({value})"
        items.append(f"{name!r}: {expr}")
    source = "\n".join(["def render(row):", *body, "    return {" + ", ".join(items) + "}"])
    exec(compile(source, "<row renderer>", "exec"), env)
    return env["render"]


class RowMemo:
    """The rendered rows kept for every renderer of a worker, `ROW_MEMO_ROWS` in all:
    when they are spent, every kept row is let go and keeping starts again."""

    def __init__(self) -> None:
        self.left = ROW_MEMO_ROWS
        self._filled: list[dict[Any, dict[str, Any]]] = []  # memos holding rows
        self._lock = threading.Lock()  # taken on a miss only

    def keep(self, memo: dict[Any, dict[str, Any]], row: Any, rendered: dict[str, Any]) -> None:
        with self._lock:
            if not memo:
                self._filled.append(memo)
            memo[row] = rendered
            self.left -= 1
            if self.left <= 0:
                for each in self._filled:
                    each.clear()
                self._filled.clear()
                self.left = ROW_MEMO_ROWS

    def __len__(self) -> int:
        return sum(len(memo) for memo in self._filled)


def row_guards(fields: Sequence[tuple[str, int, Converter]]) -> list[str] | None:
    """The tests a row must pass for its rendering to be kept, or None when a field's
    rendering can tell equal values apart whatever their type (see the docstring)."""
    guards = []
    for _name, position, conv in fields:
        if conv.memoize or conv.equal_alike:
            continue
        if conv.inline_type is not str:
            return None
        guards.append(f"type(row[{position}]) in TEXT")
    return guards


def compile_page_renderer(
    fields: Sequence[tuple[str, int, Converter]], render: Renderer, kept: RowMemo
) -> PageRenderer:
    """A function rendering a page's rows with `render`, keeping what it may."""
    guards = row_guards(fields)
    if guards is None:
        return lambda rows: [render(row) for row in rows]
    return _KeptPages(render, guards, kept)


class _KeptPages:
    """Renders pages keeping their rows, and steps aside for rows that rarely
    repeat (a portal paging through many customers' orders): after every
    `REVIEW_ROWS` rows, if fewer than half were found kept, the next
    `BYPASS_ROWS` rows are rendered without keeping (a miss costs a row's hash,
    a lock and a copy more than rendering it)."""

    def __init__(self, render: Renderer, guards: list[str], kept: RowMemo) -> None:
        self.render = render
        self.memo: dict[Any, dict[str, Any]] = {}
        self.misses = [0]
        self.seen = 0
        self.bypass = 0
        env = {"render": render, "memo": self.memo, "get": self.memo.get, "keep": kept.keep}
        env |= {"TEXT": _TEXT, "misses": self.misses}
        test = " and ".join(["type(row) is tuple", *guards])
        source = f"""def render_page(rows):
    out = []
    for row in rows:
        if {test}:
            rendered = get(row)
            if rendered is None:
                rendered = render(row)
                keep(memo, row, rendered)
                misses[0] += 1
            out.append(rendered.copy())
        else:
            out.append(render(row))
    return out"""
        exec(compile(source, "<page renderer>", "exec"), env)
        self.kept_page: PageRenderer = env["render_page"]

    def __call__(self, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        if self.bypass > 0:
            self.bypass -= len(rows)
            render = self.render
            return [render(row) for row in rows]
        out = self.kept_page(rows)
        self.seen += len(rows)
        if self.seen >= REVIEW_ROWS:
            if self.misses[0] * 2 > self.seen:
                self.bypass = BYPASS_ROWS
            self.seen = self.misses[0] = 0
        return out


class Renderers:
    """Compiled renderers per (resource view, field selection, row positions), kept in
    a bounded LRU: callers choose `fields=` freely, memory does not grow with it."""

    def __init__(self, size: int = 2048) -> None:
        self._cache: LRU[tuple[Any, ...], tuple[Renderer, PageRenderer]] = LRU(size)
        self._logged: LRU[tuple[str, str, str], bool] = LRU(LOGGED_SIZE)
        self.kept = RowMemo()

    def render_rows(
        self,
        resource: Resource,
        names: tuple[str, ...],
        positions: tuple[int, ...],
        rows: Sequence[Sequence[Any]],
        key_of: KeyOf,
    ) -> tuple[list[dict[str, Any]], tuple[str, ...]]:
        """The rows rendered, and the fields whose value could not be (served as null)."""
        render, render_page = self._compiled(resource, names, positions)
        try:
            return render_page(rows), ()
        except Exception:  # a value defeated its converter: see the docstring
            pass
        converters = [resource.by_name[n].converter for n in names]
        failed: dict[str, None] = {}
        data = []
        for row in rows:
            try:
                data.append(render(row))
                continue
            except Exception:
                pass
            item: dict[str, Any] = {}
            for name, position, conv in zip(names, positions, converters, strict=True):
                try:
                    item[name] = conv.render(row[position])
                except Exception as err:
                    item[name] = None
                    failed[name] = None
                    self._log_once(resource, name, row[position], key_of(row), err)
            data.append(item)
        return data, tuple(failed)

    def _log_once(
        self, resource: Resource, name: str, value: Any, key: str, err: Exception
    ) -> None:
        seen = (resource.version, resource.name, name)
        if self._logged.get(seen):
            return
        self._logged.put(seen, True)
        field = resource.by_name[name]
        log.warning(
            "%s/%s: the value of %s (column %s) in the row with key %s cannot be rendered "
            "by the %s converter (%s: %s); it is served as null, named in Unrendered-Fields "
            "(logged once per field)",
            resource.version, resource.name, name, field.column, key, field.converter.kind,
            type(err).__name__, err, extra={"value": repr(value)[:200]},
        )  # fmt: skip

    def get(
        self, resource: Resource, names: tuple[str, ...], positions: tuple[int, ...]
    ) -> Renderer:
        return self._compiled(resource, names, positions)[0]

    def _compiled(
        self, resource: Resource, names: tuple[str, ...], positions: tuple[int, ...]
    ) -> tuple[Renderer, PageRenderer]:
        key = (resource.shape_key, names, positions)
        found = self._cache.get(key)
        if found is None:
            fields = [
                (n, p, resource.by_name[n].converter) for n, p in zip(names, positions, strict=True)
            ]
            render = compile_renderer(fields)
            found = self._cache.put(key, (render, compile_page_renderer(fields, render, self.kept)))
        return found
