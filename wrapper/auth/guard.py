"""Per request: read the credentials, authenticate, authorize.

`setup_auth` builds everything once at start (keys, validators, the built-in
server) and returns the `authorize(resource, operation) -> Access` the views
call; per request it only reads headers and consults in-memory caches.
"""

from __future__ import annotations

from flask import Flask, g, request

from wrapper.access import Access
from wrapper.auth.apikeys import ApiKeyError, ApiKeyVerifier
from wrapper.auth.jwks import CachedKeys, KeyProvider, StaticKeys, fetch_url, load_key_file
from wrapper.auth.jwks import shared_secret as secret_keys
from wrapper.auth.policy import Policy
from wrapper.auth.principal import Principal
from wrapper.auth.sealing import StateKeyError, load_state_key
from wrapper.auth.signing import ensure_key, public_jwks
from wrapper.auth.tokens import Issuer, TokenError, TokenValidator
from wrapper.config.auth import AuthConfig, IssuerConfig
from wrapper.config.protection import LimitsConfig
from wrapper.direct import environ_name
from wrapper.mapping.model import Mapping, Resource
from wrapper.problems import Unauthorized
from wrapper.state.store import StateStore


class Guard:
    def __init__(
        self, tokens: TokenValidator, api_keys: ApiKeyVerifier, policy: Policy, header: str
    ) -> None:
        self.tokens = tokens
        self.api_keys = api_keys
        self.policy = policy
        self.header = header
        self.environ_key = environ_name(header)

    def authenticate(self) -> Principal:
        """The caller, once per request: the rate limiter and the view both ask."""
        outcome = g.get("lw_caller")
        if outcome is None:
            try:
                outcome = self._authenticate()
            except Unauthorized as err:
                outcome = err
            g.lw_caller = outcome
        if isinstance(outcome, Unauthorized):
            raise outcome
        return outcome

    def _authenticate(self) -> Principal:
        headers = request.headers
        return self.principal(headers.get("Authorization"), headers.get(self.header))

    def principal(self, authorization: str | None, api_key: str | None) -> Principal:
        """The caller named by the request's `Authorization` and API key header values."""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("use `Authorization: Bearer <token>`", error="invalid_request")
            try:
                return self.tokens.validate(token.strip())
            except TokenError as err:
                raise Unauthorized(str(err)) from None
        if api_key:
            try:
                return self.api_keys.verify(api_key.strip())
            except ApiKeyError as err:
                raise Unauthorized(str(err)) from None
        raise Unauthorized(
            f"send a bearer token (Authorization: Bearer ...) or an API key ({self.header})",
            error=None,
        )

    def authorize(self, resource: Resource, operation: str) -> Access:
        return self.policy.authorize(self.authenticate(), resource, operation)

    def authorize_environ(self, resource: Resource, operation: str, environ: dict) -> Access:
        """`authorize` for a request read straight from its WSGI environ (`wrapper.direct`)."""
        principal = self.principal(environ.get("HTTP_AUTHORIZATION"), environ.get(self.environ_key))
        return self.policy.authorize(principal, resource, operation)

    def identify(self) -> Principal | None:
        """Who is calling, for rate limits: the authenticated client, or nobody in
        particular (keyed by IP) when the credentials are missing or invalid: the
        view answers those with 401 itself."""
        try:
            return self.authenticate()
        except Unauthorized:
            return None


def _issuer(config: IssuerConfig) -> Issuer:
    keys: KeyProvider
    if config.jwks_url:
        remote = CachedKeys(
            fetch_url(config.jwks_url),
            ttl=config.jwks_cache_seconds,
            min_refetch=config.jwks_min_refetch_seconds,
            name=config.jwks_url,
        )
        remote.prefetch()  # a failure is logged; the keys are fetched again on demand
        keys = remote
    elif config.key_file:
        keys = StaticKeys(load_key_file(config.key_file))
    else:
        assert config.shared_secret
        keys = StaticKeys(secret_keys(config.shared_secret))
    return Issuer(config.issuer, frozenset(config.algorithms), keys)


def declared_scopes(mapping: Mapping) -> list[str]:
    return sorted({s for v in mapping.versions.values() for s in v.declared_scopes()})


def setup_auth(
    app: Flask,
    auth: AuthConfig,
    mapping: Mapping,
    store: StateStore,
    limits: LimitsConfig | None = None,
) -> Guard:
    """Wire authentication into `app`; the guard's `authorize` is what views call.
    The token endpoint's limits count in `limits.storage` (default: in memory)."""
    from wrapper.auth.server import register_server

    issuers = [_issuer(i) for i in auth.issuers]
    if auth.server is not None:
        from wrapper.config import ConfigError

        try:
            state_key = load_state_key(auth.server.state_key_file)
            ensure_key(store, auth, state_key)
        except StateKeyError as err:
            raise ConfigError([f"auth.server: {err}"]) from None
        own = CachedKeys(lambda: public_jwks(store), ttl=60.0, min_refetch=1.0, name="state")
        algorithms = frozenset({auth.server.algorithm})
        issuers.append(Issuer(auth.server.issuer, algorithms, own))
        storage = limits or LimitsConfig()
        register_server(app, store, auth, state_key, declared_scopes(mapping), storage)
    tokens = TokenValidator(
        issuers, auth.audience, leeway=auth.clock_skew, cache_size=auth.token_cache_size
    )
    api_keys = ApiKeyVerifier(
        store,
        cache_seconds=auth.api_key_cache_seconds,
        refused_seconds=auth.api_key_refused_cache_seconds,
    )
    guard = Guard(tokens, api_keys, Policy(mapping), auth.api_key_header)
    app.extensions["legacy_wrapper_auth"] = guard
    return guard
