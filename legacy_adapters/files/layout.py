"""Record layouts: where each field of a fixed-width record lives and how it is stored.

A `Layout` comes from a COBOL copybook (`copybook.parse`) or from a plain
layout file: a YAML or JSON list of fields (`layout_from_list`)::

    - {name: CUST-NO, length: 8}                       # char (PIC X(8))
    - {name: BALANCE, type: packed, digits: 9, scale: 2, signed: true}
    - {name: QTY, type: zoned, digits: 5, signed: true, sign: trailing}
    - {name: COUNT, type: binary, digits: 9, signed: false}
    - {name: RATE, offset: 40, length: 4, type: binary, digits: 9, native: true}

`offset` defaults to the end of the previous field; `length` defaults to what
the type and digits need. Storage kinds:

- `char`: text in the file's code page; the value keeps its pad spaces.
- `zoned`: one digit per byte (`PIC 9`, `PIC S9`); a sign is an overpunch on
  the last byte (`trailing`, the default) or the first (`leading`), or a
  separate `+`/`-` byte (`trailing_separate`, `leading_separate`).
- `packed`: COMP-3, two digits per byte and a sign nibble (C, A, E, F positive;
  D, B negative; an unsigned field must not be negative).
- `binary`: COMP, COMP-4, BINARY: big-endian two's complement (`signed`) or
  unsigned, 2, 4 or 8 bytes; the value must fit the PIC digits. `native` (COMP-5)
  allows the full binary range.

`scale` places an implied decimal point (`V`): numbers with a scale decode to
`Decimal`, whole numbers to `int`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from legacy_adapters.files.records import Column

Kind = Literal["char", "zoned", "packed", "binary"]
SignPosition = Literal["trailing", "leading", "trailing_separate", "leading_separate"]
KINDS = ("char", "zoned", "packed", "binary")
SIGN_POSITIONS = ("trailing", "leading", "trailing_separate", "leading_separate")
MAX_INTEGER_DIGITS = 18  # what a SQLite INTEGER (64 bits) always holds


class LayoutError(ValueError):
    """A layout (copybook or plain file) that cannot describe records; names the line."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        where = source or "layout"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {message}")
        self.line = line


@dataclass(frozen=True)
class FieldSpec:
    name: str
    offset: int
    length: int
    kind: Kind
    digits: int = 0
    scale: int = 0
    signed: bool = False
    sign: SignPosition = "trailing"
    native: bool = False

    @property
    def end(self) -> int:
        return self.offset + self.length

    def column(self) -> Column:
        if self.kind == "char":
            return Column(self.name, "char", length=self.length)
        if self.scale or self.digits > MAX_INTEGER_DIGITS:
            return Column(self.name, "decimal", precision=self.digits, scale=self.scale)
        return Column(self.name, "integer", precision=self.digits)


@dataclass(frozen=True)
class Layout:
    fields: tuple[FieldSpec, ...]
    length: int

    def columns(self) -> tuple[Column, ...]:
        return tuple(f.column() for f in self.fields)


def storage_length(kind: Kind, digits: int, sign: SignPosition = "trailing") -> int:
    """Bytes a numeric field of `digits` digits takes in storage."""
    if kind == "zoned":
        return digits + (1 if sign.endswith("separate") else 0)
    if kind == "packed":
        return digits // 2 + 1
    if kind == "binary":
        if digits <= 4:
            return 2
        if digits <= 9:
            return 4
        if digits <= 18:
            return 8
        raise ValueError(f"a binary field holds at most 18 digits, not {digits}")
    raise ValueError(f"{kind} fields have no digits")


def check_layout(fields: Sequence[FieldSpec], length: int, source: str | None = None) -> Layout:
    names: set[str] = set()
    for f in fields:
        if f.name in names:
            raise LayoutError(f"two fields are named {f.name}", source=source)
        names.add(f.name)
        if f.offset < 0 or f.length <= 0 or f.end > length:
            raise LayoutError(
                f"field {f.name} (offset {f.offset}, length {f.length}) lies outside "
                f"the {length}-byte record",
                source=source,
            )
    return Layout(tuple(fields), length)


def layout_from_list(
    items: Sequence[Mapping[str, Any]],
    *,
    record_length: int | None = None,
    source: str | None = None,
) -> Layout:
    """A layout from a plain list of field descriptions (see the module docstring)."""
    fields: list[FieldSpec] = []
    pos = 0
    for i, item in enumerate(items, 1):
        try:
            fields.append(_field_from_item(item, pos))
        except (KeyError, TypeError, ValueError) as exc:
            raise LayoutError(f"field #{i}: {exc}", source=source) from None
        pos = fields[-1].end
    length = record_length if record_length is not None else max((f.end for f in fields), default=0)
    return check_layout(fields, length, source)


_ITEM_KEYS = {"name", "offset", "length", "type", "digits", "scale", "signed", "sign", "native"}


def _field_from_item(item: Mapping[str, Any], pos: int) -> FieldSpec:
    unknown = set(item) - _ITEM_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} (known: {sorted(_ITEM_KEYS)})")
    name = str(item["name"])
    kind = item.get("type", "char")
    if kind not in KINDS:
        raise ValueError(f"type must be one of {', '.join(KINDS)}, not {kind!r}")
    sign = item.get("sign", "trailing")
    if sign not in SIGN_POSITIONS:
        raise ValueError(f"sign must be one of {', '.join(SIGN_POSITIONS)}, not {sign!r}")
    offset = int(item.get("offset", pos))
    if kind == "char":
        return FieldSpec(name, offset, int(item["length"]), "char")
    digits = int(item["digits"])
    scale = int(item.get("scale", 0))
    if not 0 < digits or not 0 <= scale <= digits:
        raise ValueError(f"{name}: digits must be positive and scale between 0 and digits")
    length = int(item.get("length", storage_length(kind, digits, sign)))
    if length != storage_length(kind, digits, sign):
        raise ValueError(
            f"{name}: a {kind} field of {digits} digits takes "
            f"{storage_length(kind, digits, sign)} bytes, not {length}"
        )
    return FieldSpec(
        name,
        offset,
        length,
        kind,
        digits=digits,
        scale=scale,
        signed=bool(item.get("signed", False)),
        sign=sign,
        native=bool(item.get("native", False)),
    )


def load_layout(
    path: str | Path, *, record: str | None = None, redefines: Mapping[str, str] | None = None
) -> Layout:
    """A layout from a file: `.yaml`/`.yml`/`.json` plain lists, anything else a copybook."""
    from legacy_adapters.files import copybook  # copybook builds on this module

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml", ".json"):
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        length = None
        if isinstance(data, dict):
            length = data.get("record_length")
            data = data.get("fields")
        if not isinstance(data, list):
            raise LayoutError("expected a list of fields (or {fields: [...]})", source=str(path))
        return layout_from_list(data, record_length=length, source=str(path))
    return copybook.parse(text, record=record, redefines=redefines, source=str(path))


__all__ = [
    "FieldSpec",
    "Kind",
    "Layout",
    "LayoutError",
    "check_layout",
    "layout_from_list",
    "load_layout",
    "storage_length",
]
