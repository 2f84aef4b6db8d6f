"""YAML loading that remembers where every value came from.

Validation errors name the file, the line and the path of the offending key
(`wrapper.yaml:14: versions.v1.resources.jobs.fields.status.column: ...`), so
a user can fix a mapping file without guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml


class Located(dict):
    """A YAML mapping that knows the line of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. `on`, `yes`, `Y` and `N` stay strings,
    which matters in a file full of legacy codes and an `on:` key for joins."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Located:
    loader.flatten_mapping(node)
    result = Located()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


@dataclass
class Problems:
    """Collects every problem found while validating, each with its location."""

    filename: str
    items: list[str] = field(default_factory=list)

    def add(self, line: int, path: str, message: str) -> None:
        self.items.append(f"{self.filename}:{line}: {path}: {message}")

    def at(self, node: Any, key: str | None, path: str, message: str) -> None:
        line = node.line_of(key) if isinstance(node, Located) and key else _line(node)
        self.add(line, path, message)

    def __bool__(self) -> bool:
        return bool(self.items)


def _line(node: Any) -> int:
    return node.line if isinstance(node, Located) else 0


def unknown_keys(node: Located, allowed: set[str], path: str, problems: Problems) -> None:
    for key in node:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            problems.at(node, str(key), where, f"unknown key; expected one of {sorted(allowed)}")


def typed(node: Located, key: str, kind: type | tuple, path: str, problems: Problems) -> Any:
    value = node.get(key)
    if (value is not None and not isinstance(value, kind)) or (
        isinstance(value, bool) and (kind is int or kind == (int, float))
    ):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        problems.at(node, key, f"{path}.{key}", f"must be of type {names}")
        return None
    return value


def section(raw: Located, key: str, problems: Problems) -> Located | None:
    """An optional top-level section: None when absent, or (with a problem) when
    it is not a mapping; the caller then uses its defaults."""
    node = raw.get(key)
    if node is not None and not isinstance(node, Located):
        problems.at(raw, key, key, "must be a mapping")
        return None
    return node
