"""How the API faces the web: its public URL and which browser origins may call it.

Shape (top level, and per version under `versions.vN`, which replaces the top-level
value for that version)::

    public_url: https://api.example.com/plant   # links (`Link: rel="next"`) start here;
                                                # absent: links are relative (/v1/jobs?...)
    cors:
      origins: [https://portal.example.com]     # browser apps allowed to call the API
      max_age: 600                              # seconds a browser may cache a preflight
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wrapper.config.located import Located, Problems, unknown_keys

_ORIGIN = re.compile(
    r"https?://(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?", re.IGNORECASE
)  # scheme, host and port: what a browser sends in `Origin`


@dataclass(frozen=True)
class CorsConfig:
    origins: tuple[str, ...] = ()
    max_age: int = 600


def parse_public_url(node: Located, path: str, problems: Problems) -> str | None:
    """`public_url` of `node`: an http(s) URL without query or fragment, no trailing /."""
    value = node.get("public_url")
    if value is None:
        return None
    where = f"{path}.public_url" if path else "public_url"
    parts = urlsplit(value) if isinstance(value, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        problems.at(node, "public_url", where, "an http(s) URL such as https://api.example.com")
        return None
    return value.rstrip("/")


def parse_cors(node: Located, path: str, problems: Problems) -> CorsConfig | None:
    """`cors` of `node`, or None when absent."""
    body: Any = node.get("cors")
    if body is None:
        return None
    where = f"{path}.cors" if path else "cors"
    if not isinstance(body, Located):
        problems.at(node, "cors", where, "a mapping with `origins`")
        return None
    unknown_keys(body, {"origins", "max_age"}, where, problems)
    origins = body.get("origins", [])
    if isinstance(origins, str):
        origins = [origins]
    if not isinstance(origins, list) or not all(
        isinstance(o, str) and _ORIGIN.fullmatch(o) for o in origins
    ):
        problems.at(
            body,
            "origins",
            f"{where}.origins",
            "a list of origins such as https://portal.example.com (scheme, host, port; no path)",
        )
        origins = []
    max_age = body.get("max_age", 600)
    if isinstance(max_age, bool) or not isinstance(max_age, int) or not 0 <= max_age <= 86400:
        problems.at(body, "max_age", f"{where}.max_age", "seconds, 0 to 86400")
        max_age = 600
    return CorsConfig(tuple(dict.fromkeys(o.lower() for o in origins)), max_age)
