"""ODBC connection strings as a source names them: `odbc:DSN=PLANT` or
`odbc:DRIVER={PostgreSQL Unicode};Server=db;Database=plant;UID=reader;PWD=${PLANT_PWD}`.

`${VAR}` is replaced from the environment when the source is opened, so a
password lives in the environment, never in a configuration file. Messages
show the connection string with every secret-looking value masked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

PREFIX = "odbc:"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_KEYS = frozenset({"pwd", "password", "passwd", "secret", "token", "authentication"})


class ConnectionStringError(ValueError):
    """A connection string that cannot be used (names what is wrong, never a secret)."""


def is_odbc(url: str) -> bool:
    return url.startswith(PREFIX)


def strip_prefix(url: str) -> str:
    """The connection string without `odbc:`; a bare connection string is accepted too."""
    text = url[len(PREFIX) :] if is_odbc(url) else url
    if not text.strip():
        raise ConnectionStringError("the ODBC connection string is empty (odbc:DSN=NAME)")
    return text


def expand(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace every `${VAR}` from the environment; a missing variable is an error
    that names it (an empty password would fail later, less clearly)."""
    env = os.environ if environ is None else environ
    missing = [name for name in _VARIABLE.findall(text) if name not in env]
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise ConnectionStringError(
            f"the ODBC connection string uses environment variables that are not set: {names}"
        )
    return _VARIABLE.sub(lambda m: env[m.group(1)], text)


def attributes(text: str) -> list[tuple[str, str]]:
    """`KEY=value` pairs in order; values may be braced (`{a;b}`, `}}` escapes `}`)."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in "; ":
            i += 1
        if i >= n:
            break
        eq = text.find("=", i)
        if eq < 0:
            raise ConnectionStringError(f"no '=' after {text[i:].split(';')[0]!r}")
        key = text[i:eq].strip()
        i = eq + 1
        if i < n and text[i] == "{":
            value, i = _braced(text, i)
            while i < n and text[i] != ";":
                i += 1
        else:
            end = text.find(";", i)
            end = n if end < 0 else end
            value, i = text[i:end].strip(), end
        pairs.append((key, value))
    return pairs


def _braced(text: str, start: int) -> tuple[str, int]:
    out, i = [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == "}":
            if text[i + 1 : i + 2] == "}":
                out.append("}")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise ConnectionStringError("a '{' in the ODBC connection string is never closed")


def redacted(text: str) -> str:
    """The connection string with secret values masked, for messages and logs."""
    try:
        pairs = attributes(text)
    except ConnectionStringError:
        return "<unreadable connection string>"
    return ";".join(f"{k}=***" if k.lower() in _SECRET_KEYS else f"{k}={v}" for k, v in pairs)


def describe(text: str) -> str:
    """What the connection string points at: `DSN=NAME` or `DRIVER=NAME`."""
    for key, value in attributes(text):
        if key.upper() in ("DSN", "DRIVER", "FILEDSN"):
            return f"{key.upper()}={value}"
    return "the ODBC data source"
