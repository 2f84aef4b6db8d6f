"""Whole chunks of fixed-width records decoded to storage values, checked by two patterns.

A chunk of good records is checked at once: one regular expression over the
chunk's hexadecimal text checks every packed field's digit and sign nibbles,
another over the chunk's decoded text every zoned field's digits and
overpunched sign. One generated list comprehension then slices every field of
every record from those texts, with no function call per field: `char` text
as is, numbers with decimals as their text (`-123.45`, which the `NUMERIC`
column stores exactly, see `storage`) and whole numbers as `int`. Binary
fields go through their decoder (it checks the PICTURE's digits).

Layouts it does not cover (a code page that does not map every byte to one
character, overlapping fields, zoned fields with a leading or separate sign, a
decimal of more than 15 digits) and chunks a pattern refuses are decoded the
general way (`fixed_width`), which names the bad field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from legacy_adapters.files.layout import FieldSpec, Layout
from legacy_adapters.files.storage import EXACT_DIGITS

# Packed sign nibble -> sign of the text; zoned overpunched last character -> sign, digit.
_PACKED_SIGN = {"c": "", "f": "", "a": "", "e": "", "b": "-", "d": "-"}
_ZONE_SIGN = {**{str(d): "" for d in range(10)}, "{": "", "}": "-"}
_ZONE_DIGIT = {**{str(d): str(d) for d in range(10)}, "{": "0", "}": "0"}
for _i in range(9):
    _ZONE_SIGN[chr(ord("A") + _i)], _ZONE_DIGIT[chr(ord("A") + _i)] = "", str(_i + 1)
    _ZONE_SIGN[chr(ord("J") + _i)], _ZONE_DIGIT[chr(ord("J") + _i)] = "-", str(_i + 1)


class PlainRecords:
    """Decodes chunks of records of one layout (all of the layout's length)."""

    def __init__(
        self, layout: Layout, encoding: str, binary: dict[int, Callable[[bytes], Any]]
    ) -> None:
        self.encoding = encoding
        self.length = layout.length
        hex_parts, text_parts, values = [], [], []
        namespace: dict[str, Any] = {"PS": _PACKED_SIGN, "ZS": _ZONE_SIGN, "ZD": _ZONE_DIGIT}
        position = 0
        for i, spec in enumerate(layout.fields):
            gap = spec.offset - position
            hex_parts.append(f".{{{2 * gap}}}" if gap else "")
            text_parts.append(f".{{{gap}}}" if gap else "")
            hex_parts.append(_hex_pattern(spec))
            text_parts.append(_text_pattern(spec))
            if i in binary:
                namespace[f"b{i}"] = binary[i]
                values.append(f"b{i}(B[o+{spec.offset}:o+{spec.end}])")
            else:
                values.append(_value(spec))
            position = spec.end
        tail = layout.length - position
        self.hex = _repeated("".join(hex_parts) + (f".{{{2 * tail}}}" if tail else ""))
        self.text = _repeated("".join(text_parts) + (f".{{{tail}}}" if tail else ""))
        kinds = {f.kind for f in layout.fields}
        self.check_hex, self.check_text = "packed" in kinds, "zoned" in kinds
        length = layout.length
        source = (
            "def rows(T, H, B, n):\n"
            f"    return [({', '.join(values)},)\n"
            f"            for o, p in zip(range(0, n * {length}, {length}),"
            f" range(0, n * {2 * length}, {2 * length}))]\n"
        )
        exec(compile(source, "<fixed-width chunk>", "exec"), namespace)
        self._rows = namespace["rows"]

    @classmethod
    def of(
        cls, layout: Layout, encoding: str, binary: dict[int, Callable[[bytes], Any]]
    ) -> PlainRecords | None:
        """The decoder for this layout, or None when it does not cover it (module docstring).

        `binary` maps the index of each binary field to its decoder.
        """
        fields = layout.fields
        if any(b.offset < a.end for a, b in pairwise(fields)):
            return None
        for spec in fields:
            decimal = spec.kind != "char" and (spec.scale or spec.digits > 18)
            if decimal and (spec.digits > EXACT_DIGITS or spec.native):
                return None
            if spec.kind == "zoned" and spec.signed and spec.sign != "trailing":
                return None
        return cls(layout, encoding, binary)

    def rows(self, records: list[bytes]) -> list | None:
        """The storage values of every record, or None if some record is not plain."""
        data = b"".join(records)
        text = data.decode(self.encoding)
        hexed = data.hex() if self.check_hex else ""
        if self.check_hex and not self.hex.fullmatch(hexed):
            return None
        if self.check_text and not self.text.fullmatch(text):
            return None
        try:
            return self._rows(text, hexed, data, len(records))
        except ValueError:  # a binary value beyond its PICTURE
            return None


def _repeated(record: str) -> re.Pattern:
    return re.compile(f"(?:{record})*+", re.DOTALL)


def _hex_pattern(spec: FieldSpec) -> str:
    if spec.kind != "packed":
        return f".{{{2 * spec.length}}}"
    nibbles = 2 * spec.length - 1
    digits = f"0[0-9]{{{nibbles - 1}}}" if spec.digits % 2 == 0 else f"[0-9]{{{nibbles}}}"
    return digits + ("[abcdef]" if spec.signed else "[acef]")


def _text_pattern(spec: FieldSpec) -> str:
    if spec.kind != "zoned":
        return f".{{{spec.length}}}"
    if not spec.signed:
        return f"[0-9]{{{spec.length}}}"
    return f"[0-9]{{{spec.length - 1}}}[0-9{{}}A-R]"


def _value(spec: FieldSpec) -> str:
    """The expression of the field's value in record `o` (hexadecimal text from `p`)."""
    a, b, scale = spec.offset, spec.end, spec.scale
    if spec.kind == "char":
        return f"T[o+{a}:o+{b}]"
    if spec.kind == "packed":  # nibbles 2a .. 2b-2 are digits, 2b-1 the sign
        sign, digits, digit = f"PS[H[p+{2 * b - 1}]]", ("H", "p", 2 * a, 2 * b - 1), ""
    elif spec.signed:  # zoned, trailing overpunch: the last character holds a digit too
        sign, digits, digit = f"ZS[T[o+{b - 1}]]", ("T", "o", a, b - 1), f"{{ZD[T[o+{b - 1}]]}}"
    else:
        sign, digits, digit = "", ("T", "o", a, b), ""
    text, base, first, end = digits
    sign = f"{{{sign}}}" if sign else ""
    if not scale and not sign:
        return f"int({text}[{base}+{first}:{base}+{end}])"
    if not scale:
        return f'int(f"{sign}{{{text}[{base}+{first}:{base}+{end}]}}{digit}")'
    # the point goes `scale` digits before the end (an overpunch digit is the last)
    point = (b if spec.kind == "zoned" else 2 * b - 1) - scale
    whole = f"{{{text}[{base}+{first}:{base}+{point}]}}" if point > first else "0"
    fraction = f"{{{text}[{base}+{point}:{base}+{end}]}}" if point < end else ""
    return f'f"{sign}{whole}.{fraction}{digit}"'


__all__ = ["PlainRecords"]
