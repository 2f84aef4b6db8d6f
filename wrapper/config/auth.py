"""The `auth:` section of the configuration file, validated once into frozen objects.

Shape::

    auth:
      audience: plant-api            # the `aud` every token must carry
      state: auth.db                 # optional: the top-level `state` (the wrapper's own
                                     # database) is used when absent
      clock_skew: 30                 # seconds of leeway on exp and nbf
      server:                        # the built-in OAuth 2.0 authorization server
        issuer: http://127.0.0.1:8080
        token_lifetime: 900          # seconds
        algorithm: RS256             # or ES256
        state_key_file: state.key    # the key sealing the signing keys (or the
                                     # LEGACY_WRAPPER_STATE_KEY environment variable)
        token_limits: {client: 20/minute, address: 60/minute}   # POST /oauth/token
      issuers:                       # external identity providers (optional)
        - issuer: https://idp.example.com/
          jwks_url: https://idp.example.com/.well-known/jwks.json
          algorithms: [RS256]
        - {issuer: partner, key_file: partner.pem, algorithms: [ES256]}
        - {issuer: legacy-sso, shared_secret: '...32 characters or more...', algorithms: [HS256]}
      api_key_header: X-API-Key
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from limits import parse_many

from wrapper.config.located import Located, Problems, unknown_keys
from wrapper.config.state import state_url

ASYMMETRIC = ("RS256", "ES256")
ALGORITHMS = (*ASYMMETRIC, "HS256")


@dataclass(frozen=True)
class IssuerConfig:
    """An external token issuer the wrapper trusts, and where its keys come from."""

    issuer: str
    algorithms: tuple[str, ...]
    jwks_url: str | None = None
    key_file: Path | None = None
    shared_secret: str | None = None
    jwks_cache_seconds: float = 300.0
    jwks_min_refetch_seconds: float = 30.0

    def __repr__(self) -> str:  # never print the shared secret
        return f"IssuerConfig(issuer={self.issuer!r}, algorithms={self.algorithms!r})"


@dataclass(frozen=True)
class ServerConfig:
    """The built-in authorization server (client credentials grant)."""

    issuer: str
    token_lifetime: int = 900
    algorithm: str = "RS256"
    state_key_file: Path | None = None  # LEGACY_WRAPPER_STATE_KEY, when set, comes first
    client_limit: str = "20/minute"  # token requests per client id
    address_limit: str = "60/minute"  # token requests per client address


@dataclass(frozen=True)
class AuthConfig:
    audience: str
    state: str  # SQLAlchemy URL
    clock_skew: int = 30
    server: ServerConfig | None = None
    issuers: tuple[IssuerConfig, ...] = ()
    api_key_header: str = "X-API-Key"
    token_cache_size: int = 10_000
    api_key_cache_seconds: float = 10.0
    api_key_refused_cache_seconds: float = 60.0


def parse_auth(
    raw: Located, base_dir: Path, problems: Problems, *, default_state: str
) -> AuthConfig | None:
    node = raw.get("auth")
    if not isinstance(node, Located):
        problems.at(raw, "auth", "auth", "must be a mapping with `audience`")
        return None
    unknown_keys(
        node,
        {
            "audience",
            "state",
            "clock_skew",
            "server",
            "issuers",
            "api_key_header",
            "token_cache_size",
            "api_key_cache_seconds",
            "api_key_refused_cache_seconds",
        },
        "auth",
        problems,
    )
    audience = _string(node, "audience", "auth", problems, required=True)
    state = _string(node, "state", "auth", problems)
    values: dict[str, Any] = {}
    for key, kind in (
        ("clock_skew", int),
        ("token_cache_size", int),
        ("api_key_cache_seconds", (int, float)),
        ("api_key_refused_cache_seconds", (int, float)),
    ):
        if key in node:
            value = node[key]
            if isinstance(value, bool) or not isinstance(value, kind) or value < 0:
                problems.at(node, key, f"auth.{key}", "must be a number >= 0")
            else:
                values[key] = value
    if "api_key_header" in node:
        values["api_key_header"] = _string(node, "api_key_header", "auth", problems) or "X-API-Key"
    server = _server(node, base_dir, problems) if "server" in node else None
    issuers = _issuers(node, base_dir, problems)
    if not audience:
        return None
    return AuthConfig(
        audience=audience,
        state=state_url(state, base_dir) if state else default_state,
        server=server,
        issuers=issuers,
        **values,
    )


def _string(
    node: Located, key: str, path: str, problems: Problems, *, required: bool = False
) -> str | None:
    value = node.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        problems.at(node, key, f"{path}.{key}", "a non-empty string is required")
        return None
    return value


def _algorithms(
    node: Located, path: str, default: tuple[str, ...], problems: Problems
) -> tuple[str, ...]:
    value = node.get("algorithms", list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or any(a not in ALGORITHMS for a in value):
        problems.at(
            node, "algorithms", f"{path}.algorithms", f"a list drawn from {list(ALGORITHMS)}"
        )
        return default
    return tuple(value)


def _server(node: Located, base_dir: Path, problems: Problems) -> ServerConfig | None:
    body = node["server"]
    if not isinstance(body, Located):
        problems.at(node, "server", "auth.server", "must be a mapping with `issuer`")
        return None
    unknown_keys(
        body,
        {"issuer", "token_lifetime", "algorithm", "state_key_file", "token_limits"},
        "auth.server",
        problems,
    )
    issuer = _string(body, "issuer", "auth.server", problems, required=True)
    lifetime = body.get("token_lifetime", 900)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int) or not 1 <= lifetime <= 86400:
        problems.at(body, "token_lifetime", "auth.server.token_lifetime", "seconds, 1 to 86400")
        lifetime = 900
    algorithm = body.get("algorithm", "RS256")
    if algorithm not in ASYMMETRIC:
        problems.at(body, "algorithm", "auth.server.algorithm", f"one of {list(ASYMMETRIC)}")
        algorithm = "RS256"
    name = _string(body, "state_key_file", "auth.server", problems)
    key_file = (base_dir / name).resolve() if name else None
    limits = _token_limits(body, problems)
    if not issuer:
        return None
    return ServerConfig(issuer, lifetime, algorithm, key_file, **limits)


def _one_rate(value: str) -> bool:
    try:
        return len(parse_many(value)) == 1
    except ValueError:
        return False


def _token_limits(body: Located, problems: Problems) -> dict[str, str]:
    node = body.get("token_limits")
    if node is None:
        return {}
    path = "auth.server.token_limits"
    if not isinstance(node, Located):
        problems.at(body, "token_limits", path, "a mapping with `client` and `address` rates")
        return {}
    unknown_keys(node, {"client", "address"}, path, problems)
    found = {}
    for key in ("client", "address"):
        value = node.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not _one_rate(value):
            problems.at(node, key, f"{path}.{key}", "one rate such as 20/minute")
        else:
            found[f"{key}_limit"] = value
    return found


def _issuers(node: Located, base_dir: Path, problems: Problems) -> tuple[IssuerConfig, ...]:
    items = node.get("issuers") or []
    if not isinstance(items, list):
        problems.at(node, "issuers", "auth.issuers", "must be a list of issuers")
        return ()
    result = []
    for i, body in enumerate(items):
        path = f"auth.issuers[{i}]"
        if not isinstance(body, Located):
            problems.at(node, "issuers", path, "must be a mapping with `issuer` and a key source")
            continue
        unknown_keys(
            body,
            {
                "issuer",
                "algorithms",
                "jwks_url",
                "key_file",
                "shared_secret",
                "jwks_cache_seconds",
                "jwks_min_refetch_seconds",
            },
            path,
            problems,
        )
        issuer = _string(body, "issuer", path, problems, required=True)
        sources = [k for k in ("jwks_url", "key_file", "shared_secret") if k in body]
        if len(sources) != 1:
            problems.at(
                body, "issuer", path, "give exactly one of jwks_url, key_file, shared_secret"
            )
            continue
        secret = _string(body, "shared_secret", path, problems)
        default = ("HS256",) if secret else ASYMMETRIC
        algorithms = _algorithms(body, path, default, problems)
        if secret is not None:
            if algorithms != ("HS256",):
                problems.at(
                    body, "algorithms", f"{path}.algorithms", "a shared secret is HS256 only"
                )
            if len(secret) < 32:
                problems.at(
                    body, "shared_secret", f"{path}.shared_secret", "at least 32 characters"
                )
        elif "HS256" in algorithms:
            problems.at(body, "algorithms", f"{path}.algorithms", "HS256 needs a shared_secret")
        key_file = None
        if "key_file" in body:
            name = _string(body, "key_file", path, problems)
            key_file = (base_dir / name).resolve() if name else None
            if key_file is not None and not key_file.is_file():
                problems.at(body, "key_file", f"{path}.key_file", f"no such file: {key_file}")
        url = _string(body, "jwks_url", path, problems)
        if url is not None and not url.startswith(("https://", "http://")):
            problems.at(body, "jwks_url", f"{path}.jwks_url", "must be an http(s) URL")
        timings = {}
        for key in ("jwks_cache_seconds", "jwks_min_refetch_seconds"):
            if key in body:
                value = body[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    problems.at(body, key, f"{path}.{key}", "seconds >= 0")
                else:
                    timings[key] = float(value)
        if issuer:
            result.append(IssuerConfig(issuer, algorithms, url, key_file, secret, **timings))
    return tuple(result)
