"""COBOL copybook parser: copybook text -> `Layout` (data division entries only).

Understood: levels 01-49 and 77, `PIC`/`PICTURE` with `X`, `A`, `9`, `S`, `V`
and repetition counts (`9(7)`), edited pictures (`ZZ9.99-`, stored as text),
`USAGE` `DISPLAY`, `COMP`/`COMP-4`/`BINARY`, `COMP-5`, `COMP-3`/`PACKED-DECIMAL`
(on an item or inherited from its group), `SIGN [IS] LEADING|TRAILING
[SEPARATE [CHARACTER]]`, fixed `OCCURS n [TIMES]` (also on groups and nested),
`REDEFINES`, `FILLER` and unnamed items (skipped: they only take space), `VALUE`,
`JUSTIFIED`, `BLANK WHEN ZERO`, `INDEXED BY`, `ASCENDING/DESCENDING KEY`
(ignored: they do not change storage). Level 88 conditions and level 66
`RENAMES` are ignored. Refused with the line named: `OCCURS DEPENDING ON`,
`SYNCHRONIZED`, `COMP-1`/`COMP-2` floats, `PIC P` and `N`, `POINTER`, `INDEX`.

Names: fields keep their COBOL names. An `OCCURS` item is flattened into one
column per occurrence, `NAME_1` ... `NAME_n` (nested: `NAME_2_3`, outer index
first); elementary names that appear under several groups are qualified with
their group (`BILL-ADDR-STREET`). `REDEFINES`: by default the first description
of the storage is used; `redefines={"ORIGINAL": "ALTERNATIVE"}` picks another.
When a copybook holds several 01 records, the first is used unless `record`
names one.

Both reference format (sequence area in columns 1-6, indicator in column 7,
code in 8-72) and free format (`*>` comments) are read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from legacy_adapters.files.layout import (
    MAX_INTEGER_DIGITS,
    FieldSpec,
    Kind,
    Layout,
    LayoutError,
    SignPosition,
    check_layout,
    storage_length,
)

_TOKEN = re.compile(r"'(?:[^']|'')*'\.?|\"(?:[^\"]|\"\")*\"\.?|[^\s,;]+(?:[,;][^\s,;]+)*")
_USAGES: dict[str, str] = {
    "DISPLAY": "display",
    "COMP": "binary",
    "COMPUTATIONAL": "binary",
    "COMP-4": "binary",
    "COMPUTATIONAL-4": "binary",
    "BINARY": "binary",
    "COMP-5": "native",
    "COMPUTATIONAL-5": "native",
    "COMP-3": "packed",
    "COMPUTATIONAL-3": "packed",
    "PACKED-DECIMAL": "packed",
}
_REFUSED_USAGES = {
    "COMP-1": "COMP-1 (floating point) is not supported",
    "COMPUTATIONAL-1": "COMP-1 (floating point) is not supported",
    "COMP-2": "COMP-2 (floating point) is not supported",
    "COMPUTATIONAL-2": "COMP-2 (floating point) is not supported",
    "POINTER": "POINTER items are not supported",
    "INDEX": "USAGE INDEX items are not supported",
    "NATIONAL": "NATIONAL (UTF-16) items are not supported",
}
_FIGURATIVE = {"ZERO", "ZEROS", "ZEROES", "SPACE", "SPACES", "HIGH-VALUE", "HIGH-VALUES"}
_FIGURATIVE |= {"LOW-VALUE", "LOW-VALUES", "QUOTE", "QUOTES", "NULL", "NULLS", "ALL"}


@dataclass
class _Item:
    level: int
    name: str | None  # None for FILLER and unnamed items
    line: int
    pic: str | None = None
    usage: str | None = None
    sign: SignPosition | None = None
    occurs: int = 1
    redefines: str | None = None
    children: list[_Item] = field(default_factory=list)
    size: int = 0  # bytes of one occurrence, set by _measure


# --------------------------------------------------------------------------- text -> entries


def _code_lines(text: str) -> list[tuple[int, str]]:
    """The code part of each line, with its line number; comments removed."""
    lines = text.splitlines()
    fixed = _is_reference_format(lines)
    out: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        if fixed:
            indicator = line[6:7]
            if indicator in ("*", "/", "D", "d"):
                continue
            code = line[7:72]
        else:
            code = line
            if code.lstrip().startswith("*") and not code.lstrip().startswith("*>"):
                continue
        cut = code.find("*>")
        if cut >= 0:
            code = code[:cut]
        if code.strip():
            out.append((number, code))
    return out


def _is_reference_format(lines: list[str]) -> bool:
    """Reference format when every line has a sequence area (blank or one word) and column 7."""
    for line in lines:
        if not line.strip():
            continue
        if len(line) < 7 or (len(line) < 8 and line[6] not in "*/"):
            return False
        sequence = line[:6]
        if sequence.strip() and not sequence.isalnum():
            return False
        if line[6] not in " *-/Dd":
            return False
    return True


def _entries(text: str) -> list[tuple[int, list[str]]]:
    """Entries (sentences ended by a period) as token lists, with the line they start on."""
    entries: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for number, code in _code_lines(text):
        for match in _TOKEN.finditer(code):
            token = match.group()
            if not current:
                start = number
            if (token.endswith(".") and len(token) > 1) or token == ".":
                if token != ".":
                    current.append(token[:-1])
                entries.append((start, current))
                current = []
            else:
                current.append(token)
    if current:
        entries.append((start, current))
    return entries


# --------------------------------------------------------------------------- entries -> items


def _parse_entry(line: int, tokens: list[str], source: str | None) -> _Item | None:
    def fail(message: str) -> LayoutError:
        return LayoutError(message, source=source, line=line)

    if not tokens[0].isdigit():
        raise fail(f"expected a level number, found {tokens[0]!r}")
    level = int(tokens[0])
    if level == 88 or level == 66:
        return None
    if not (1 <= level <= 49 or level == 77):
        raise fail(f"level {level} is not a data description level")
    rest = [t.upper() if not t.startswith(("'", '"')) else t for t in tokens[1:]]
    name: str | None = None
    if rest and rest[0] not in _CLAUSE_WORDS and not rest[0].startswith(("'", '"')):
        name = rest.pop(0)
        if name == "FILLER":
            name = None
    item = _Item(level, name, line)
    i = 0

    def take() -> str:
        nonlocal i
        if i >= len(rest):
            raise fail("clause ends too early")
        i += 1
        return rest[i - 1]

    def skip(*words: str) -> None:
        nonlocal i
        while i < len(rest) and rest[i] in words:
            i += 1

    while i < len(rest):
        word = take()
        if word in ("PIC", "PICTURE"):
            skip("IS")
            item.pic = take()
        elif word == "USAGE":
            skip("IS")
            item.usage = _usage(take(), fail)
        elif word in _USAGES or word in _REFUSED_USAGES:
            item.usage = _usage(word, fail)
        elif word == "REDEFINES":
            item.redefines = take()
        elif word in ("SIGN", "LEADING", "TRAILING"):
            if word == "SIGN":
                skip("IS")
                word = take()
            if word not in ("LEADING", "TRAILING"):
                raise fail(f"SIGN must be LEADING or TRAILING, not {word}")
            separate = i < len(rest) and rest[i] == "SEPARATE"
            skip("SEPARATE")
            skip("CHARACTER")
            item.sign = f"{word.lower()}{'_separate' if separate else ''}"  # type: ignore[assignment]
        elif word == "OCCURS":
            item.occurs = _occurs(rest, i, fail)
            i = len(rest) if "DEPENDING" in rest[i:] else _after_occurs(rest, i)
        elif word in ("VALUE", "VALUES"):
            skip("IS", "ARE")
            skip("ALL")
            take()
        elif word in ("JUST", "JUSTIFIED"):
            skip("RIGHT")
        elif word == "BLANK":
            skip("WHEN")
            take()
        elif word in ("GLOBAL", "EXTERNAL"):
            pass
        elif word in ("SYNC", "SYNCHRONIZED"):
            raise fail("SYNCHRONIZED is not supported (its slack bytes depend on the compiler)")
        elif word == "RENAMES":
            return None
        else:
            raise fail(f"unexpected {word!r}")
    return item


_CLAUSE_WORDS = {"PIC", "PICTURE", "USAGE", "REDEFINES", "SIGN", "OCCURS", "VALUE", "VALUES"}
_CLAUSE_WORDS |= set(_USAGES) | set(_REFUSED_USAGES) | {"LEADING", "TRAILING", "SYNC"}
_CLAUSE_WORDS |= {"SYNCHRONIZED", "JUST", "JUSTIFIED", "BLANK", "GLOBAL", "EXTERNAL"}


def _usage(word: str, fail) -> str:
    if word in _REFUSED_USAGES:
        raise fail(_REFUSED_USAGES[word])
    if word not in _USAGES:
        raise fail(f"unknown USAGE {word}")
    return _USAGES[word]


def _occurs(rest: list[str], i: int, fail) -> int:
    if "DEPENDING" in rest[i:]:
        raise fail("OCCURS DEPENDING ON (a variable count) is not supported")
    if i >= len(rest) or not rest[i].isdigit():
        raise fail("OCCURS needs a count")
    if i + 1 < len(rest) and rest[i + 1] == "TO":
        raise fail("OCCURS n TO m without DEPENDING ON is not supported")
    count = int(rest[i])
    if count < 1:
        raise fail("OCCURS count must be at least 1")
    return count


def _after_occurs(rest: list[str], i: int) -> int:
    i += 1
    if i < len(rest) and rest[i] == "TIMES":
        i += 1
    while i < len(rest) and rest[i] in ("ASCENDING", "DESCENDING", "INDEXED"):
        i += 1
        while i < len(rest) and rest[i] in ("KEY", "IS", "BY"):
            i += 1
        while (
            i < len(rest)
            and rest[i] not in _CLAUSE_WORDS
            and rest[i]
            not in (
                "ASCENDING",
                "DESCENDING",
                "INDEXED",
            )
        ):
            i += 1
    return i


def _tree(items: list[_Item], source: str | None) -> list[_Item]:
    """Nest items by level number; returns the top-level items (01/77, or the lowest level)."""
    roots: list[_Item] = []
    stack: list[_Item] = []
    for item in items:
        level = 1 if item.level == 77 else item.level
        while stack and stack[-1].level >= level:
            stack.pop()
        if stack:
            parent = stack[-1]
            if parent.pic is not None:
                raise LayoutError(
                    f"{parent.name or 'FILLER'} has a PICTURE and cannot contain items",
                    source=source,
                    line=item.line,
                )
            parent.children.append(item)
        else:
            roots.append(item)
        if item.level != 77:
            stack.append(item)
    return roots


# --------------------------------------------------------------------------- items -> layout


@dataclass(frozen=True)
class _Pic:
    kind: Kind
    digits: int
    scale: int
    signed: bool
    length: int  # for char


def _parse_pic(pic: str, fail) -> _Pic:
    expanded = re.sub(
        r"(.)\((\d+)\)", lambda m: m.group(1) * int(m.group(2)), pic.upper().rstrip(".")
    )
    if "(" in expanded or ")" in expanded:
        raise fail(f"cannot read PICTURE {pic}")
    if "P" in expanded:
        raise fail(f"PICTURE {pic}: scaling positions (P) are not supported")
    if "N" in expanded or "G" in expanded:
        raise fail(f"PICTURE {pic}: national and DBCS items are not supported")
    if re.fullmatch(r"S?9*V?9*", expanded) and "9" in expanded:
        signed = expanded.startswith("S")
        body = expanded.lstrip("S")
        integer, _, fraction = body.partition("V")
        digits = len(integer) + len(fraction)
        return _Pic("zoned", digits, len(fraction), signed, digits)
    if re.fullmatch(r"[XA9]+", expanded):
        return _Pic("char", 0, 0, False, len(expanded))
    if re.fullmatch(r"[9ZXAB0/,.+\-*$CRDBE]+", expanded.replace("CR", "C").replace("DB", "D")):
        # edited pictures: stored as the characters they print
        return _Pic("char", 0, 0, False, len(expanded))
    raise fail(f"cannot read PICTURE {pic}")


def _elementary(item: _Item, usage: str | None, sign: SignPosition | None, fail) -> FieldSpec:
    pic = _parse_pic(item.pic or "", fail)
    usage = usage or "display"
    if pic.kind == "char":
        if usage != "display":
            raise fail(f"PICTURE {item.pic} cannot be {usage}")
        return FieldSpec(item.name or "", 0, pic.length, "char")
    kind: Kind = "zoned" if usage == "display" else "packed" if usage == "packed" else "binary"
    position: SignPosition = sign or "trailing"
    if kind != "zoned" and sign is not None:
        raise fail("SIGN applies to DISPLAY numeric items only")
    if kind == "binary" and pic.digits > MAX_INTEGER_DIGITS:
        raise fail(f"binary items hold at most {MAX_INTEGER_DIGITS} digits")
    if position.endswith("separate") and not pic.signed:
        raise fail("SIGN SEPARATE needs a signed PICTURE (S)")
    return FieldSpec(
        item.name or "",
        0,
        storage_length(kind, pic.digits, position),
        kind,
        digits=pic.digits,
        scale=pic.scale,
        signed=pic.signed,
        sign=position,
        native=usage == "native",
    )


def parse(
    text: str,
    *,
    record: str | None = None,
    redefines: Mapping[str, str] | None = None,
    source: str | None = None,
) -> Layout:
    """Parse a copybook into the layout of one record (see the module docstring)."""
    items = [
        item for line, tokens in _entries(text) if (item := _parse_entry(line, tokens, source))
    ]
    if not items:
        raise LayoutError("no data description entries", source=source)
    roots = _tree(items, source)
    if record is not None:
        chosen = [r for r in roots if r.name == record.upper()]
        if not chosen:
            raise LayoutError(f"no record named {record}", source=source)
        root = chosen[0]
    elif roots[0].level == 1:
        root = roots[0]
    else:  # loose items without an 01: they are the record
        root = _Item(1, None, roots[0].line, children=roots)
    builder = _Builder(dict(redefines or {}), source)
    builder.measure(root, None, None)
    fields: list[tuple[FieldSpec, tuple[str, ...]]] = []
    if root.children:
        builder.flatten_children(root, 0, (), (), fields, None, None)
    else:
        spec = builder.leaf(root, None, None)
        fields.append((spec, ()))
    builder.check_choices_used()
    return check_layout(_qualified(fields, source), root.size, source)


class _Builder:
    def __init__(self, choices: dict[str, str], source: str | None) -> None:
        self.choices = {k.upper(): v.upper() for k, v in choices.items()}
        self.used: set[str] = set()
        self.source = source

    def fail(self, item: _Item):
        return lambda message: LayoutError(message, source=self.source, line=item.line)

    def leaf(self, item: _Item, usage: str | None, sign: SignPosition | None) -> FieldSpec:
        return _elementary(item, item.usage or usage, item.sign or sign, self.fail(item))

    def measure(self, item: _Item, usage: str | None, sign: SignPosition | None) -> int:
        """Set `item.size` (one occurrence) and return the bytes all occurrences take."""
        usage = item.usage or usage
        sign = item.sign or sign
        if not item.children:
            if item.pic is None:
                raise self.fail(item)(f"{item.name or 'FILLER'} has neither PICTURE nor items")
            item.size = self.leaf(item, usage, sign).length
            return item.size * item.occurs
        pos = end = 0
        starts: dict[str, int] = {}
        for child in item.children:
            if child.redefines and child.redefines not in starts:
                raise self.fail(child)(
                    f"{child.name} redefines {child.redefines}, which is not an earlier "
                    "item of the same group"
                )
            start = starts[child.redefines] if child.redefines else pos
            if child.name:
                starts[child.name] = start
            size = self.measure(child, usage, sign)
            if not child.redefines:
                pos = start + size
            end = max(end, start + size)
        item.size = max(end, pos)
        return item.size * item.occurs

    def flatten_children(
        self,
        group: _Item,
        base: int,
        suffix: tuple[int, ...],
        path: tuple[str, ...],
        out: list[tuple[FieldSpec, tuple[str, ...]]],
        usage: str | None,
        sign: SignPosition | None,
    ) -> None:
        usage = group.usage or usage
        sign = group.sign or sign
        pos = 0
        starts: dict[str, int] = {}
        alternatives: dict[str, list[_Item]] = {}
        original_of: dict[str, str] = {}
        for child in group.children:
            if child.redefines:
                original = original_of.get(child.redefines, child.redefines)
                if child.name:
                    original_of[child.name] = original
                alternatives.setdefault(original, []).append(child)
            elif child.name:
                alternatives.setdefault(child.name, [child])
                original_of[child.name] = child.name
        for child in group.children:
            start = starts[child.redefines] if child.redefines else pos
            if child.name:
                starts[child.name] = start
            if not child.redefines:
                pos = start + child.size * child.occurs
            if not self._chosen(child, original_of, alternatives):
                continue
            if child.name is None and not child.children:
                continue  # FILLER
            for index in range(child.occurs):
                offset = base + start + index * child.size
                sub = suffix + ((index + 1,) if child.occurs > 1 else ())
                if child.children:
                    self.flatten_children(
                        child, offset, sub, (*path, child.name or ""), out, usage, sign
                    )
                else:
                    spec = self.leaf(child, usage, sign)
                    name = (child.name or "") + "".join(f"_{n}" for n in sub)
                    out.append((replace(spec, name=name, offset=offset), path))

    def _chosen(
        self, child: _Item, original_of: dict[str, str], alternatives: dict[str, list[_Item]]
    ) -> bool:
        if child.name is None:
            return child.redefines is None
        original = original_of[child.name]
        wanted = self.choices.get(original)
        if wanted is None:
            return child.redefines is None
        names = [a.name for a in alternatives[original]]
        if wanted not in names:
            raise LayoutError(
                f"redefines: {wanted} is not one of {', '.join(n or 'FILLER' for n in names)}",
                source=self.source,
            )
        self.used.add(original)
        return child.name == wanted

    def check_choices_used(self) -> None:
        unused = set(self.choices) - self.used
        if unused:
            raise LayoutError(
                f"redefines names {', '.join(sorted(unused))}, which no item redefines",
                source=self.source,
            )


def _qualified(
    fields: list[tuple[FieldSpec, tuple[str, ...]]], source: str | None
) -> list[FieldSpec]:
    """Qualify elementary names that appear in several groups with their group's name."""
    counts: dict[str, int] = {}
    for spec, _ in fields:
        counts[spec.name] = counts.get(spec.name, 0) + 1
    out = []
    for spec, path in fields:
        name = spec.name
        if counts[name] > 1 and path and path[-1]:
            name = f"{path[-1]}-{name}"
        out.append(replace(spec, name=name))
    return out


__all__ = ["parse"]
