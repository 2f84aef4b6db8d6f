"""Bearer JWT validation against an independent issuer whose JWKS is served on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from wrapper.auth.jwks import CachedKeys, StaticKeys, fetch_url, shared_secret
from wrapper.auth.tokens import Issuer, TokenError, TokenValidator

from ...support.tokens import AUDIENCE, EXTERNAL, SECRET, SHARED
from .conftest import Idp, b64, unsigned


def validator(idp: Idp, **kwargs: float) -> TokenValidator:
    keys = CachedKeys(fetch_url(idp.url), ttl=300, min_refetch=kwargs.pop("min_refetch", 0))
    return TokenValidator(
        [
            Issuer(EXTERNAL, frozenset({"RS256", "ES256"}), keys),
            Issuer(SHARED, frozenset({"HS256"}), StaticKeys(shared_secret(SECRET))),
        ],
        AUDIENCE,
        leeway=5,
        **kwargs,
    )


def test_valid_rs256_and_es256_tokens(idp: Idp) -> None:
    v = validator(idp)
    for key in idp.keys[:2]:
        principal = v.validate(idp.token(key, scope="jobs:read orders:read", customer_no="C1"))
        assert principal.scopes == {"jobs:read", "orders:read"}
        assert principal.claims["customer_no"] == "C1"
    assert v.validate(idp.token(scope=None, scp=["a", "b"])).scopes == {"a", "b"}


def test_shared_secret_hs256(idp: Idp) -> None:
    now = int(time.time())
    claims = {"iss": SHARED, "aud": AUDIENCE, "exp": now + 60, "sub": "s", "scope": "jobs:read"}
    token = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(SECRET.encode()))
    assert validator(idp).validate(token).scopes == {"jobs:read"}
    wrong = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(b"x" * 40))
    with pytest.raises(TokenError, match="signature"):
        validator(idp).validate(wrong)


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": int(time.time()) - 60}, "expired"),
        ({"nbf": int(time.time()) + 600}, "not valid"),
        ({"aud": "someone-else"}, "not valid"),
        ({"aud": None}, "required claim"),
        ({"exp": None}, "required claim"),
        ({"iss": "https://evil.test/"}, "issuer is not trusted"),
    ],
)
def test_rejected_claims(idp: Idp, claims: dict, message: str) -> None:
    issuer = claims.pop("iss", EXTERNAL)
    with pytest.raises(TokenError, match=message):
        validator(idp).validate(idp.token(issuer=issuer, **claims))


def test_clock_skew_is_allowed(idp: Idp) -> None:
    now = int(time.time())
    assert validator(idp).validate(idp.token(exp=now - 2, nbf=now + 2))


def test_bad_signature_and_rogue_key_with_a_known_kid(idp: Idp) -> None:
    token = idp.token()
    head, _body, sig = token.split(".")
    tampered = f"{head}.{b64({'iss': EXTERNAL, 'aud': AUDIENCE, 'exp': 2**31, 'scope': 'orders:all'})}.{sig}"
    with pytest.raises(TokenError, match="signature"):
        validator(idp).validate(tampered)
    rogue = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    with pytest.raises(TokenError, match="signature"):
        validator(idp).validate(idp.token(rogue, {"alg": "RS256", "kid": "rsa-1"}))


def test_alg_none_is_refused(idp: Idp) -> None:
    with pytest.raises(TokenError, match="algorithm 'none'"):
        validator(idp).validate(unsigned())


def test_hs256_signed_with_the_public_rsa_key_is_refused(idp: Idp) -> None:
    """Algorithm confusion: the issuer's public key used as an HMAC secret."""
    public_pem = idp.keys[0].as_pem(private=False)
    now = int(time.time())
    claims = {"iss": EXTERNAL, "aud": AUDIENCE, "exp": now + 60, "scope": "orders:all"}
    signing_input = f"{b64({'alg': 'HS256', 'kid': 'rsa-1'})}.{b64(claims)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(TokenError, match="algorithm 'HS256' is not accepted"):
        validator(idp).validate(token)
    # and an RS256 token claiming to come from the shared-secret issuer
    with pytest.raises(TokenError, match="algorithm 'RS256' is not accepted"):
        validator(idp).validate(idp.token(issuer=SHARED))


def test_unknown_kid_refetches_the_jwks_then_rotation_works(idp: Idp) -> None:
    v = validator(idp)
    v.validate(idp.token())
    before = idp.requests
    new_key = idp.add_key(f"rotated-{time.time_ns()}")
    assert v.validate(idp.token(new_key)).subject == "ext-client"
    assert idp.requests == before + 1  # one refetch for the new kid
    unknown = RSAKey.generate_key(2048, parameters={"kid": "never-published"})
    with pytest.raises(TokenError, match="unknown key"):
        v.validate(idp.token(unknown))


def test_refetch_on_unknown_kid_is_rate_limited(idp: Idp) -> None:
    v = validator(idp, min_refetch=3600)
    v.validate(idp.token())
    before = idp.requests
    forged = RSAKey.generate_key(2048)
    for n in range(20):
        with pytest.raises(TokenError, match="unknown key"):
            v.validate(idp.token(forged, {"alg": "RS256", "kid": f"forged-{n}"}))
    assert idp.requests - before <= 1


def test_validated_tokens_are_cached_until_they_expire(idp: Idp) -> None:
    now = [time.time()]
    v = validator(idp, clock=lambda: now[0])
    token = idp.token(exp=int(now[0]) + 60)
    first = v.validate(token)
    assert v.validate(token) is first  # no second signature check
    now[0] += 120
    with pytest.raises(TokenError, match="expired"):
        v.validate(token)


def test_cache_is_bounded(idp: Idp) -> None:
    v = validator(idp, cache_size=3)
    for n in range(6):
        v.validate(idp.token(jti=str(n)))
    assert len(v._cache) <= 3


def test_garbage_is_not_a_token(idp: Idp) -> None:
    for junk in ("abc", "a.b.c", f"{b64({'alg': 'RS256'})}.e30.", "...."):
        with pytest.raises(TokenError):
            validator(idp).validate(junk)


def test_an_unreachable_jwks_is_not_hammered() -> None:
    now = [1000.0]
    keys = CachedKeys(
        fetch_url("http://127.0.0.1:1/jwks.json", timeout=0.5),
        min_refetch=30,
        clock=lambda: now[0],
    )
    keys.prefetch()
    for _ in range(50):
        assert keys.key("rsa-1", "RS256") is None
    assert keys.fetches == 1
    now[0] += 31
    keys.key("rsa-1", "RS256")
    assert keys.fetches == 2
