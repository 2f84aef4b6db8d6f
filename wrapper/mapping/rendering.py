"""Row renderers: one Python function per field selection, compiled at first use.

Rendering runs once per field per row, so it is the hottest code of a list
request. Instead of looping over (name, position, converter) triples, the
renderer is generated as straight-line code (as `dataclasses` generates
`__init__`): cheap conversions are written inline (`v and v.rstrip(" ")` for
padded CHAR), pure conversions of values that repeat (dates, codes, flags,
amounts) go through a bounded memo, anything else calls the converter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from wrapper.lru import LRU
from wrapper.mapping.converters import Converter

if TYPE_CHECKING:
    from wrapper.mapping.model import Resource

Renderer = Callable[[Sequence[Any]], dict[str, Any]]
MEMO_SIZE = 65_536
_MISSING = object()


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
            if conv.inline == "{v}":
                expr = value
            else:
                body.append(f"    v{i} = {value}")
                expr = conv.inline.format(v=f"v{i}")
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


class Renderers:
    """Compiled renderers per (resource view, field selection, row positions), kept in
    a bounded LRU: callers choose `fields=` freely, memory does not grow with it."""

    def __init__(self, size: int = 2048) -> None:
        self._cache: LRU[tuple[Any, ...], Renderer] = LRU(size)

    def get(
        self, resource: Resource, names: tuple[str, ...], positions: tuple[int, ...]
    ) -> Renderer:
        key = (resource.shape_key, names, positions)
        render = self._cache.get(key)
        if render is None:
            fields = [
                (n, p, resource.by_name[n].converter) for n, p in zip(names, positions, strict=True)
            ]
            render = self._cache.put(key, compile_renderer(fields))
        return render
