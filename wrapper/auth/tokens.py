"""Bearer JWT validation: signature, algorithm, issuer, audience, exp and nbf.

The issuer named in the token picks which keys and algorithms are accepted:
an RS256 issuer never accepts an HS256 token (no algorithm confusion), `none`
is never accepted, and a shared secret only ever verifies HS256. A validated
token is cached by its SHA-256 until it expires, so a client polling every
second pays for one signature check per token, not per request.
"""

from __future__ import annotations

import base64
import hashlib
import json
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


class TokenError(Exception):
    """The token cannot be accepted; the message is safe to show the caller."""


@dataclass(frozen=True)
class Issuer:
    name: str
    algorithms: frozenset[str]
    keys: KeyProvider


def _segment(text: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        raise TokenError("the token is not a JWT") from None


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
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        hit = self._cache.get(digest)
        if hit is not None and hit.expires_at is not None and now < hit.expires_at + self.leeway:
            return hit
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
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("the token is not a signed JWT")
        header, payload = _segment(parts[0]), _segment(parts[1])
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise TokenError("the token is not a JWT")
        alg = header.get("alg")
        issuer = self.issuers.get(payload.get("iss"))  # type: ignore[arg-type]
        if issuer is None:
            raise TokenError("the token's issuer is not trusted")
        if not isinstance(alg, str) or alg not in issuer.algorithms:
            raise TokenError(f"the algorithm {alg!r} is not accepted from this issuer")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYP):
            raise TokenError("the token is not an access token")
        kid = header.get("kid")
        key = issuer.keys.key(kid if isinstance(kid, str) else None, alg)
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
        return Principal(str(subject), scopes_of(claims), claims, float(claims["exp"]))
