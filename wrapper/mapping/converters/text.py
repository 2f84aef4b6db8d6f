"""Text and bytes: CHAR(n) padding, legacy code pages, binary data, and text that
is only shown (xml, tsvector, types nobody declared)."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from wrapper.mapping.converters.base import NULL_ONLY, TEXT, ConversionError, Converter
from wrapper.mapping.converters.base import MappingSpecError as MappingSpecError
from wrapper.operators import Capability


class StringConverter(Converter):
    """Text; CHAR(n) padding trimmed on the way out and restored on the way in."""

    kind = "string"
    capabilities = TEXT
    inline_type = str

    def __init__(self, *, trim: bool, pad_to: int | None, empty_as_null: bool = False) -> None:
        self.trim = trim
        self.pad_to = pad_to
        self.empty_as_null = empty_as_null
        self.fixed_length = pad_to is not None
        shown = '{v}.rstrip(" ")' if trim else "{v}"
        # blank (any whitespace) is null: the same test as `render`
        self.inline = f"({shown} if {{v}}.strip() else None)" if empty_as_null else shown

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            if not isinstance(value, int | float | Decimal):
                raise TypeError(f"a {type(value).__name__} is not text")
            value = str(value)  # a number in a column of text (SQLite keeps what it is given)
        if self.trim:
            value = value.rstrip(" ")
        if self.empty_as_null and value.strip() == "":
            return None
        return value

    def parse(self, text: str) -> tuple[Any, ...]:
        if self.pad_to is not None:
            if len(text) > self.pad_to:
                raise ConversionError(f"is longer than the field's {self.pad_to} characters")
            text = text.ljust(self.pad_to)
        return (text,)

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.pad_to:
            schema["maxLength"] = self.pad_to
        return schema

    def spec(self) -> Any:
        name = "trim" if self.trim else "string"
        return {name: {"empty_as_null": True}} if self.empty_as_null else name


class EncodedTextConverter(Converter):
    """Text stored as bytes in a legacy code page (cp1252, cp437, cp037 ...)."""

    kind = "text"

    def __init__(self, encoding: str, *, trim: bool = True) -> None:
        try:
            "".encode(encoding)
        except LookupError:
            raise MappingSpecError(f"unknown text encoding {encoding!r}") from None
        self.encoding = encoding
        self.trim = trim

    def render(self, value: Any) -> Any:
        if value is None:
            return None
        text = bytes(value).decode(self.encoding, errors="replace")
        return text.rstrip(" ") if self.trim else text

    def parse(self, text: str) -> tuple[Any, ...]:
        try:
            return (text.encode(self.encoding),)
        except UnicodeEncodeError:
            raise ConversionError(f"cannot be written in the {self.encoding} code page") from None

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def spec(self) -> Any:
        return {"text": self.encoding}


class BytesConverter(Converter):
    """Opaque binary data as base64; it can only be tested for null."""

    kind = "bytes"
    capabilities: frozenset[Capability] = NULL_ONLY
    sortable = False

    def render(self, value: Any) -> Any:
        return None if value is None else base64.b64encode(bytes(value)).decode("ascii")

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "contentEncoding": "base64"}


class ShownTextConverter(Converter):
    """Values that are served as their text and never compared: xml documents,
    tsvector lexemes, money as the database formats it, and any type the wrapper
    does not know (`as_text`: the driver's value through `str()`, bytes in
    base64; no cast is sent to the database)."""

    capabilities: frozenset[Capability] = NULL_ONLY
    sortable = False

    _DESCRIPTIONS = {
        "xml": "an XML document, as text",
        "tsvector": "a text-search vector (lexemes and positions), as PostgreSQL writes it",
        "as_text": "the value as text (a type without a JSON form of its own)",
    }

    def __init__(self, kind: str) -> None:
        if kind not in self._DESCRIPTIONS:
            raise MappingSpecError(f"no shown-text converter {kind!r}")
        self.kind = kind

    def render(self, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return base64.b64encode(bytes(value)).decode("ascii")
        return str(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "description": self._DESCRIPTIONS[self.kind]}
