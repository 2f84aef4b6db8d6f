"""Bearer JWT validation: signature, algorithm, issuer, audience, exp and nbf.

The issuer named in the token picks which keys and algorithms are accepted:
an RS256 issuer never accepts an HS256 token (no algorithm confusion), `none`
is never accepted, and a shared secret only ever verifies HS256. A validated
token is cached by its SHA-256 until it expires, so a client polling every
second pays for one signature check per token, not per request.

Whatever a caller sends, validation ends in a `Principal` or a `TokenError`:
the token is bounded in size and alphabet before it is decoded, its header
and claims must be flat JSON objects of the types RFC 7515/7519 give them
(no nesting deeper than `MAX_DEPTH`, no duplicate names, no NaN), and only
then is a key looked up and the signature checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwt import JWTClaimsRegistry

from wrapper.auth.jwks import KeyProvider
from wrapper.auth.principal import Principal, scopes_of

ACCEPTED_TYP = frozenset({"jwt", "at+jwt", "application/at+jwt"})
MAX_TOKEN_LENGTH = 8192  # characters; common servers cap a whole header line near this
MAX_TIME = 10**12  # seconds since the epoch: about the year 33658
MAX_DEPTH = 8  # nesting of arrays and objects inside a header or claims set
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_ALG_NAME = re.compile(r"[A-Za-z0-9+-]{1,16}")  # echoed in messages only when it looks like one
_TIMES = ("exp", "nbf", "iat")
_STRINGS = ("iss", "sub", "client_id", "jti", "scope")


class TokenError(Exception):
    """The token cannot be accepted; the message is safe to show the caller."""


@dataclass(frozen=True)
class Issuer:
    name: str
    algorithms: frozenset[str]
    keys: KeyProvider


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _shape_problem(value: Any) -> str | None:
    """Why a decoded header or claims set cannot be used (walked iteratively: no
    recursion on attacker input), else None."""
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "contains a NUL character"
        elif isinstance(item, dict | list):
            if level >= MAX_DEPTH:
                return "nests too deeply"
            children = [*item, *item.values()] if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return None


def _segment(text: str, what: str) -> dict[str, Any]:
    """A base64url JSON object, strictly: UTF-8, no duplicate names, bounded depth."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_unique, parse_constant=_no_constant
        )
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise TokenError(f"the token's {what} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise TokenError(f"the token's {what} is not a JSON object")
    problem = _shape_problem(value)
    if problem:
        raise TokenError(f"the token's {what} {problem}")
    return value


def _check_header(header: dict[str, Any]) -> None:
    for name in ("alg", "kid", "typ"):
        if name in header and not isinstance(header[name], str):
            raise TokenError(f"the token's header `{name}` must be a string")
    if "crit" in header:  # RFC 7515 4.1.11: no extension is understood here
        raise TokenError("the token's header names critical extensions that are not supported")


def _is_time(value: Any) -> bool:
    """A NumericDate a float can hold (RFC 7519 2): a finite number, not a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return -MAX_TIME < value < MAX_TIME  # False for NaN; no float conversion of a huge int


def _check_claims(claims: dict[str, Any]) -> None:
    for name in _STRINGS:
        if name in claims and not isinstance(claims[name], str):
            raise TokenError(f"the token's claim `{name}` must be a string")
    for name in _TIMES:
        if name in claims and not _is_time(claims[name]):
            raise TokenError(f"the token's claim `{name}` must be a number of seconds")
    aud = claims.get("aud")
    if aud is not None and not (
        isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud))
    ):
        raise TokenError("the token's claim `aud` must be a string or a list of strings")
    scp = claims.get("scp")
    if scp is not None and not (
        isinstance(scp, str) or (isinstance(scp, list) and all(isinstance(s, str) for s in scp))
    ):
        raise TokenError("the token's claim `scp` must be a string or a list of strings")


class TokenValidator:
    def __init__(
        self,
        issuers: Sequence[Issuer],
        audience: str,
        *,
        leeway: int = 30,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuers = {i.name: i for i in issuers}
        self.audience = audience
        self.leeway = leeway
        self.cache_size = cache_size
        self._clock = clock
        self._cache: dict[bytes, Principal] = {}
        self._lock = threading.Lock()

    def validate(self, token: str) -> Principal:
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenError(f"the token is longer than {MAX_TOKEN_LENGTH} characters")
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        hit = self._cache.get(digest)  # only tokens that passed every check below are kept
        if hit is not None and hit.expires_at is not None and now < hit.expires_at + self.leeway:
            return hit
        if not _COMPACT_JWS.fullmatch(token):
            raise TokenError("the token is not a signed JWT (three base64url parts)")
        principal = self._verify(token, now)
        self._remember(digest, principal, now)
        return principal

    def _remember(self, digest: bytes, principal: Principal, now: float) -> None:
        if self.cache_size <= 0:
            return
        with self._lock:
            if len(self._cache) >= self.cache_size:
                for key in [k for k, p in self._cache.items() if (p.expires_at or 0) <= now]:
                    del self._cache[key]
                while len(self._cache) >= self.cache_size:  # oldest first
                    del self._cache[next(iter(self._cache))]
            self._cache[digest] = principal

    def _verify(self, token: str, now: float) -> Principal:
        head, body, _signature = token.split(".")
        header, payload = _segment(head, "header"), _segment(body, "claims set")
        _check_header(header)
        _check_claims(payload)
        alg = header.get("alg")
        issuer = self.issuers.get(payload.get("iss", ""))
        if issuer is None:
            raise TokenError("the token's issuer is not trusted")
        if alg not in issuer.algorithms:
            named = repr(alg) if alg and _ALG_NAME.fullmatch(alg) else "of the token"
            raise TokenError(f"the algorithm {named} is not accepted from this issuer")
        typ = header.get("typ")
        if typ is not None and typ.lower() not in ACCEPTED_TYP:
            raise TokenError("the token is not an access token")
        key = issuer.keys.key(header.get("kid"), alg)
        if key is None:
            raise TokenError("the token is signed with an unknown key")
        try:
            claims = jwt.decode(token, key, algorithms=[alg]).claims
        except JoseError:
            raise TokenError("the token's signature is not valid") from None
        registry = JWTClaimsRegistry(
            now=int(now),
            leeway=self.leeway,
            iss={"essential": True, "value": issuer.name},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenError("the token has expired") from None
        except MissingClaimError as err:
            raise TokenError(f"the token lacks a required claim: {err.description}") from None
        except JoseError as err:
            raise TokenError(f"the token is not valid: {err.description}") from None
        subject = claims.get("sub") or claims.get("client_id") or "?"
        return Principal(subject, scopes_of(claims), claims, float(claims["exp"]))
