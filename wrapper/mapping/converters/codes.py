"""Legacy codes: flags (`Y`/`N`) and code tables (`'RN'` <-> `"running"`), and
native booleans."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wrapper.mapping.converters.base import EQUALITY, ConversionError, Converter, MappingSpecError


def _as_code(value: Any) -> Any:
    return value.rstrip(" ") if isinstance(value, str) else value


class BooleanConverter(Converter):
    """Flags such as `Y`/`N`, `1`/`0`, `T`/`F`."""

    memoize = True

    kind = "boolean"
    capabilities = EQUALITY

    def __init__(
        self, true_values: Sequence[Any], false_values: Sequence[Any], pad_to: int | None
    ) -> None:
        if not true_values or not false_values:
            raise MappingSpecError("boolean needs at least one true and one false value")
        self.true_values = tuple(true_values)
        self.false_values = tuple(false_values)
        self.pad_to = pad_to
        self._lookup = {v: True for v in self.true_values} | {v: False for v in self.false_values}

    def render(self, value: Any) -> Any:
        return self._lookup.get(_as_code(value))

    def parse(self, text: str) -> tuple[Any, ...]:
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            values = self.true_values
        elif lowered in ("false", "0", "no"):
            values = self.false_values
        else:
            raise ConversionError("is not a boolean (use true or false)")
        return tuple(_pad(v, self.pad_to) for v in values)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def spec(self) -> Any:
        return {"boolean": {"true": list(self.true_values), "false": list(self.false_values)}}


class EnumConverter(Converter):
    """Legacy codes to readable names: `'RN'` <-> `"running"`."""

    memoize = True

    kind = "enum"

    def __init__(self, values: Mapping[Any, str], pad_to: int | None) -> None:
        if not values:
            raise MappingSpecError("enum needs at least one code: name pair")
        self.values = dict(values)
        self.pad_to = pad_to
        self.codes: dict[str, tuple[Any, ...]] = {}
        for code, name in self.values.items():
            if not isinstance(name, str):
                raise MappingSpecError(f"enum name for code {code!r} must be a string")
            self.codes[name] = (*self.codes.get(name, ()), _pad(code, pad_to))

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        code = _as_code(value)
        return self.values.get(code, code)

    def parse(self, text: str) -> tuple[Any, ...]:
        try:
            return self.codes[text]
        except KeyError:
            allowed = ", ".join(sorted(self.codes))
            raise ConversionError(f"is not one of: {allowed}") from None

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": sorted(self.codes)}

    def spec(self) -> Any:
        return {"enum": dict(self.values)}


def _pad(value: Any, pad_to: int | None) -> Any:
    if pad_to and isinstance(value, str):
        return value.ljust(pad_to)
    return value


_TRUE_TEXT = frozenset({"t", "true", "y", "yes", "1"})
_FALSE_TEXT = frozenset({"f", "false", "n", "no", "0"})


class NativeBooleanConverter(Converter):
    """A SQL BOOLEAN (or MySQL `BIT(1)`, or a SQLite BOOLEAN holding 0/1 or `'t'`/`'f'`
    text): true, false or null. A value that is none of these is unrenderable,
    never silently null."""

    kind = "native_boolean"
    capabilities = EQUALITY
    memoize = True

    def render(self, value: Any) -> Any:
        if value is None or value is True or value is False:
            return value
        if isinstance(value, int | float):
            if value in (0, 1):
                return bool(value)
        elif isinstance(value, bytes | bytearray) and len(value) == 1 and value[0] in (0, 1):
            return bool(value[0])
        elif isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in _TRUE_TEXT:
                return True
            if lowered in _FALSE_TEXT:
                return False
        raise ValueError(f"{value!r} is not a boolean")

    def parse(self, text: str) -> tuple[Any, ...]:
        lowered = text.lower()
        if lowered in ("true", "1"):
            return (True,)
        if lowered in ("false", "0"):
            return (False,)
        raise ConversionError("is not a boolean (use true or false)")

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}
