"""Whatever a caller puts in its credentials, the answer is a 401 `invalid_token`
problem (never a 500), and the attempt counts against its address's rate limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from joserfc.jwk import KeySet, RSAKey

from wrapper.app import create_app
from wrapper.auth.jwks import StaticKeys, shared_secret
from wrapper.auth.principal import Principal
from wrapper.auth.tokens import Issuer, TokenError, TokenValidator

from ...support.demo import demo_config
from ...support.tokens import AUDIENCE, EXTERNAL, SECRET, SHARED, auth_section


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


def signed(header: bytes, claims: bytes) -> str:
    """A token with a valid HS256 signature of the trusted shared-secret issuer:
    only the content can be wrong."""
    signing_input = f"{b64(header)}.{b64(claims)}"
    mac = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def claims(**overrides: Any) -> bytes:
    body = {
        "iss": SHARED,
        "aud": AUDIENCE,
        "sub": "s",
        "exp": int(time.time()) + 300,
        "scope": "jobs:read",
    }
    body.update(overrides)
    return js({k: v for k, v in body.items() if v is not None})


HS256 = js({"alg": "HS256"})
NESTED = b"[" * 2000 + b"]" * 2000
NOT_UTF8 = b'{"iss": "\xff"}'

# (case, Authorization header, what the detail says)
BEARER_CASES = [
    ("unhashable issuer", f"{b64(js({'alg': 'RS256'}))}.{b64(js({'iss': ['x']}))}.x", "`iss`"),
    ("deeply nested claims", f"{b64(HS256)}.{b64(NESTED)}.x", "claims set"),
    ("deeply nested header", f"{b64(NESTED)}.{b64(claims())}.x", "header"),
    ("nine levels of objects", signed(HS256, claims(x=json.loads("[" * 9 + "]" * 9))), "deeply"),
    ("non-UTF-8 header", f"{b64(bytes([0xFF, 0xFE, 0x7B]))}.{b64(claims())}.x", "header"),
    ("non-UTF-8 claims", f"{b64(HS256)}.{b64(NOT_UTF8)}.x", "claims set"),
    ("huge segment", f"{b64(HS256)}.{'A' * 100_000}.x", "longer than"),
    ("kid is a list", signed(js({"alg": "HS256", "kid": ["a"]}), claims()), "`kid`"),
    ("alg is a number", signed(js({"alg": 256}), claims()), "`alg`"),
    ("alg is a snowman", signed(js({"alg": "\u2603"}), claims()), "algorithm of the token"),
    ("typ is an object", signed(js({"alg": "HS256", "typ": {}}), claims()), "`typ`"),
    ("critical extension", signed(js({"alg": "HS256", "crit": ["b64"]}), claims()), "critical"),
    ("exp is a string", signed(HS256, claims(exp="tomorrow")), "`exp`"),
    ("exp is true", signed(HS256, claims(exp=True)), "`exp`"),
    ("exp overflows a float", signed(HS256, claims(exp=10**400)), "`exp`"),
    ("exp is NaN", signed(HS256, claims().replace(b'"exp": ', b'"exp": NaN, "x": ')), "JSON"),
    ("nbf is a list", signed(HS256, claims(nbf=[1])), "`nbf`"),
    ("aud is an object", signed(HS256, claims(aud={"a": 1})), "`aud`"),
    ("aud lists a number", signed(HS256, claims(aud=[AUDIENCE, 1])), "`aud`"),
    ("scope is a list", signed(HS256, claims(scope=["jobs:read"])), "`scope`"),
    ("scp lists an object", signed(HS256, claims(scope=None, scp=[{}])), "`scp`"),
    ("sub is a number", signed(HS256, claims(sub=42)), "`sub`"),
    ("sub is an object", signed(HS256, claims(sub={"id": 1})), "`sub`"),
    ("NUL in a claim", signed(HS256, claims(work_center="WC01\x00")), "NUL"),
    ("NUL in the token", f"{b64(HS256)}.\x00.x", "three base64url parts"),
    ("duplicate issuer", signed(HS256, claims()[:-1] + b', "iss": "other"}'), "JSON"),
    ("claims are a list", f"{b64(HS256)}.{b64(js([1]))}.x", "not a JSON object"),
    ("two parts", f"{b64(HS256)}.{b64(claims())}", "three base64url parts"),
    ("padding", f"{b64(HS256)}==.{b64(claims())}.x", "three base64url parts"),
    ("non-ASCII", "é.é.é", "three base64url parts"),
]


def test_the_well_formed_reference_token_is_accepted() -> None:
    """The cases above differ from a token the validator accepts in one way each."""
    principal = validator().validate(signed(HS256, claims()))
    assert principal.subject == "s" and principal.scopes == {"jobs:read"}


@pytest.mark.parametrize(
    ("case", "token", "detail"), BEARER_CASES, ids=[c[0] for c in BEARER_CASES]
)
def test_malformed_bearer_tokens_are_401_invalid_token(
    auth_app: Flask, case: str, token: str, detail: str
) -> None:
    with pytest.raises(TokenError, match=detail):
        validator().validate(token)
    response = auth_app.test_client().get("/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, case
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == "/problems/unauthorized" and detail in body["detail"]
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="invalid_token"' in challenge and challenge.encode("latin-1")


@pytest.mark.parametrize(
    "key",
    [
        "lwk_\x00bcdef12_" + "a" * 43,
        "lwk_ABCDEF12_" + "a" * 43,
        "lwk_abcdef12_" + "a" * 10,
        "lwk_abcdef12_" + "a" * 100_000,
        "lwk_abcdef12_" + "é" * 43,
        "lwk_abcdef12_" + "a" * 42 + "\x00",
        "not-a-key",
    ],
)
def test_malformed_api_keys_are_401_invalid_token(auth_app: Flask, key: str) -> None:
    response = auth_app.test_client().get("/v1/orders", headers={"X-API-Key": key})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_malformed_credentials_count_against_the_address(
    demo_url: str, idp, tmp_path: Path
) -> None:
    limits = "limits:\n  storage: memory://\n  default: 3/minute\n"
    app = create_app(
        demo_config(demo_url, extra=auth_section(tmp_path / "auth.db", idp.url) + limits)
    )
    try:
        client = app.test_client()
        statuses = [
            client.get("/v1/jobs", headers={"Authorization": f"Bearer {token}"}).status_code
            for _case, token, _detail in BEARER_CASES[:4]
        ]
        assert statuses == [401, 401, 401, 429]
        refused = client.get("/v1/jobs", headers={"X-API-Key": "lwk_abcdef12_" + "a" * 43})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        other = client.get(
            "/v1/jobs",
            headers={"Authorization": "Bearer x.y.z"},
            environ_base={"REMOTE_ADDR": "10.0.0.9"},
        )
        assert other.status_code == 401  # another address has its own count
    finally:
        app.extensions["legacy_wrapper"].close()


# ------------------------------------------------------------------ property-based

RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "alg": "RS256"})
RSA_PUBLIC = KeySet([RSA])


def validator() -> TokenValidator:
    return TokenValidator(
        [
            Issuer(SHARED, frozenset({"HS256"}), StaticKeys(shared_secret(SECRET))),
            Issuer(EXTERNAL, frozenset({"RS256"}), StaticKeys(RSA_PUBLIC)),
        ],
        AUDIENCE,
        leeway=5,
        cache_size=0,
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from([SHARED, EXTERNAL, AUDIENCE, "HS256", "RS256", "rsa-1", "at+jwt"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)
now = int(time.time())
HEADER_NAMES = ["alg", "kid", "typ", "crit", "b64", "jku", "cty"]
CLAIM_NAMES = ["iss", "aud", "exp", "nbf", "iat", "sub", "client_id", "scope", "scp", "jti"]
SIGNED_BY = {"hs256": ("HS256", SHARED), "rs256": ("RS256", EXTERNAL)}


def changes(names: list[str]) -> st.SearchStrategy[dict]:
    """A few members set to anything (known names more often), or removed (None)."""
    name = st.sampled_from(names) | st.text(max_size=6)
    return st.dictionaries(name, st.none() | json_values, max_size=3)


def apply(base: dict, change: dict) -> dict:
    result = {**base, **change}
    return {k: v for k, v in result.items() if v is not None or change.get(k, 0) is not None}


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    how=st.sampled_from(["hs256", "rs256", "garbage signature", "raw header"]),
    header_change=changes(HEADER_NAMES),
    claims_change=changes(CLAIM_NAMES),
    lifetime=st.integers(-100, 1000),
    raw=st.binary(max_size=40),
)
def test_random_tokens_give_a_principal_or_a_token_error(
    how: str, header_change: dict, claims_change: dict, lifetime: int, raw: bytes
) -> None:
    """A token that would be accepted, with a few header members and claims changed
    to random JSON (or removed), signed by a trusted issuer or not."""
    alg, issuer = SIGNED_BY.get(how, ("HS256", SHARED))
    kid = {"kid": "rsa-1"} if alg == "RS256" else {}
    header = apply({"alg": alg, **kid, "typ": "at+jwt"}, header_change)
    payload = apply(
        {"iss": issuer, "aud": AUDIENCE, "sub": "s", "exp": now + lifetime, "scope": "a b"},
        claims_change,
    )
    head, body = js(header), js(payload)
    if how == "hs256":
        token = signed(head, body)
    elif how == "rs256":
        signing_input = f"{b64(head)}.{b64(body)}".encode()
        signature = RSA.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        token = f"{signing_input.decode()}.{b64(signature)}"
    elif how == "garbage signature":
        token = f"{b64(head)}.{b64(body)}.{b64(raw)}"
    else:
        token = f"{b64(raw)}.{b64(body)}.{b64(raw)}"
    try:
        principal = validator().validate(token)
    except TokenError as err:
        assert str(err)
        event(str(err).split(":")[0])
        return
    event("accepted")
    assert isinstance(principal, Principal)
    assert isinstance(principal.subject, str)
    assert all(isinstance(s, str) for s in principal.scopes)
    assert principal.expires_at is not None and principal.expires_at > now - 100
