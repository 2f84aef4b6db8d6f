"""The built-in OAuth 2.0 authorization server (authlib): client credentials grant.

- `POST /oauth/token`: client_secret_basic or client_secret_post; answers a JWT
  access token (RFC 9068, `typ: at+jwt`) signed with the active signing key, with
  the configured lifetime, audience and the client's claims (e.g. customer_no).
  An unknown client id and a wrong secret get the same `invalid_client` answer
  after the same work (a lookup, a digest, a constant-time comparison); a
  `scope` the client does not hold is `invalid_scope` (RFC 6749 5.2), a subset
  of its scopes gives a token for that subset. Requests are limited per client
  id and per address (`auth.server.token_limits`), before any secret is checked.
- `GET /.well-known/jwks.json`: the public signing keys (old ones until retired).
- `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Blueprint, Flask, Response, current_app, request
from joserfc.jwk import KeySet

from wrapper.auth.sealing import StateKey
from wrapper.auth.signing import Signer, public_jwks
from wrapper.config.auth import AuthConfig
from wrapper.config.protection import LimitsConfig
from wrapper.limits import KeyedLimits, ietf_fields
from wrapper.problems import RateLimited, handle_problem
from wrapper.responses import json_response
from wrapper.state.store import ClientRecord, Grant, StateStore, digest

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
RESERVED_CLAIMS = frozenset(
    {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "client_id", "scp"}
)


class Client(ClientMixin):
    """A registered client as authlib sees it; `known=False` stands in for a client
    id that does not exist, so that it fails exactly like a wrong secret."""

    def __init__(self, record: ClientRecord, *, known: bool = True) -> None:
        self.record = record
        self.known = known

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        granted = self.record.grant.scopes
        if not scope:
            return " ".join(granted)
        return " ".join(s for s in dict.fromkeys(scope.split()) if s in granted)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        matches = hmac.compare_digest(self.record.secret_sha256, digest(client_secret))
        return matches and self.known

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


def unknown_client(client_id: str) -> Client:
    """A client that no secret opens: its digest is of a random value nobody knows."""
    record = ClientRecord(client_id, "", digest(secrets.token_hex(32)), Grant((), {}), 0.0)
    return Client(record, known=False)


class _Grant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_requested_scope(self) -> None:
        """RFC 6749 5.2: asking for a scope the client does not hold is `invalid_scope`."""
        requested = (self.request.payload.scope or "").split()
        missing = [s for s in dict.fromkeys(requested) if s not in self.client.record.grant.scopes]
        if missing:
            raise InvalidScopeError(
                description=f"the client does not hold the scope {' '.join(missing)}"
            )


class _TokenGenerator(JWTBearerTokenGenerator):
    def __init__(self, signer: Signer, auth: AuthConfig) -> None:
        assert auth.server is not None
        lifetime = auth.server.token_lifetime
        super().__init__(
            issuer=auth.server.issuer,
            alg=auth.server.algorithm,
            expires_generator=lambda _client, _grant_type: lifetime,
        )
        self.signer = signer
        self.audience = auth.audience

    def get_jwks(self) -> KeySet:
        return self.signer.active_keys()

    def get_audiences(self, client: Client, user: Any, scope: str) -> str:
        return self.audience

    def get_extra_claims(
        self, client: Client, grant_type: str, user: Any, scope: str
    ) -> dict[str, Any]:
        claims = client.record.grant.claims
        return {k: v for k, v in claims.items() if k not in RESERVED_CLAIMS}


def register_server(
    app: Flask,
    store: StateStore,
    auth: AuthConfig,
    state_key: StateKey,
    scopes: list[str],
    storage: LimitsConfig,
) -> AuthorizationServer:
    """The token endpoint and metadata; its rate limits count in `storage` (the API's)."""
    assert auth.server is not None
    server = AuthorizationServer()

    def query_client(client_id: str) -> Client:
        record = store.client(client_id)
        return Client(record) if record else unknown_client(client_id)

    server.init_app(app, query_client=query_client, save_token=lambda _token, _request: None)
    server.register_grant(_Grant)
    server.register_token_generator("default", _TokenGenerator(Signer(store, state_key), auth))
    issuer = auth.server.issuer
    blueprint = Blueprint("oauth", __name__)

    limits = KeyedLimits(
        [("token-address", auth.server.address_limit), ("token-client", auth.server.client_limit)],
        storage.storage,
        storage.strategy,
        f"{storage.key_prefix}-token",
    )

    @blueprint.post("/oauth/token")
    def issue_token() -> Response:
        basic = _basic_credentials()
        client_id = (basic[0] if basic else None) or request.form.get("client_id") or None
        usages = limits.hit(
            {"token-address": request.remote_addr or "unknown", "token-client": client_id}
        )
        fields = ietf_fields(usages)
        refused = next((u for u in usages if u.breached), None)
        if refused is not None:
            state = current_app.extensions.get("legacy_wrapper")
            if state is not None:
                state.metrics.rate_limited.labels(refused.name).inc()
            problem = RateLimited(
                f"the {refused.name} rate limit of {refused.amount} per {refused.window} s "
                f"is used up; retry in {refused.reset_in} s",
                headers={"Retry-After": str(refused.reset_in), **fields},
            )
            return handle_problem(problem)
        if basic is None:
            unreadable = InvalidClientError(
                status_code=401, description="the Authorization header is not readable HTTP Basic"
            )
            response = server.handle_error_response(request, unreadable)
        else:
            response = server.create_token_response()
        response.headers.update(fields)
        return response

    @blueprint.get("/.well-known/jwks.json")
    def jwks() -> Response:
        return json_response(public_jwks(store), headers={"Cache-Control": "max-age=60"})

    @blueprint.get("/.well-known/oauth-authorization-server")
    def metadata() -> Response:
        base = issuer.rstrip("/") if issuer.startswith("http") else request.url_root.rstrip("/")
        return json_response(
            {
                "issuer": issuer,
                "token_endpoint": f"{base}/oauth/token",
                "jwks_uri": f"{base}/.well-known/jwks.json",
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": AUTH_METHODS,
                "response_types_supported": [],
                "scopes_supported": scopes,
            }
        )

    app.register_blueprint(blueprint)
    return server


def _basic_credentials() -> tuple[str | None, str | None] | None:
    """(client id, secret) from HTTP Basic, (None, None) without it, None when the
    header cannot be read (credentials that are not UTF-8)."""
    try:
        return extract_basic_authorization(request.headers)
    except UnicodeDecodeError:
        return None


def create_client(store: StateStore, name: str, grant: Grant) -> tuple[str, str]:
    """Register a client; returns (client_id, client_secret), the secret shown once."""
    client_id = f"{_slug(name)}-{secrets.token_hex(4)}"
    secret = secrets.token_urlsafe(32)
    store.add_client(client_id, name, secret, grant)
    return client_id, secret


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:40] or "client"
