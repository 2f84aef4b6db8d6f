"""Converters between legacy values and modern JSON values, in both directions.

One module per family: `text` (CHAR padding, code pages, bytes, shown text),
`numbers`, `codes` (flags, code tables, native booleans), `temporal` (legacy
digit dates and times), `native` (native SQL types); `types` is the type table
and `build` turns a mapping declaration into a converter. See `base` for the
contract every converter keeps.
"""

from wrapper.mapping.converters.base import (
    ConversionError,
    Converter,
    MappingSpecError,
    Unrenderable,
)
from wrapper.mapping.converters.build import NAMES, build_converter, infer_converter
from wrapper.mapping.converters.types import TypeEntry, column_type

__all__ = [
    "NAMES",
    "ConversionError",
    "Converter",
    "MappingSpecError",
    "TypeEntry",
    "Unrenderable",
    "build_converter",
    "column_type",
    "infer_converter",
]
