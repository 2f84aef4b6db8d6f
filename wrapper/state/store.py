"""The wrapper's own state: OAuth clients, API keys, signing keys and cursor keys.

It lives in its own database (a SQLite file by default), never in the legacy
database, which stays read-only. Secrets are stored as SHA-256 digests: they
are 256-bit random values, so a fast digest is enough (no password stretching
is needed) and a lookup costs microseconds. Signing private keys are stored
sealed with the operator's state key (`signing`, `sealing`), never in clear.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from wrapper.state.ddl import create_missing

metadata = sa.MetaData()

clients = sa.Table(
    "lw_clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("claims", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

api_keys = sa.Table(
    "lw_api_keys",
    metadata,
    sa.Column("prefix", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("claims", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float),
    sa.Column("revoked_at", sa.Float),
)

signing_keys = sa.Table(
    "lw_signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("alg", sa.String(16), nullable=False),
    sa.Column("private_jwk", sa.Text, nullable=False),  # JSON: see SigningKey.material
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("retire_at", sa.Float),  # published until then; None while active
)

cursor_keys = sa.Table(
    "lw_cursor_keys",
    metadata,
    sa.Column("kid", sa.String(16), primary_key=True),
    sa.Column("secret", sa.String(128), nullable=False),  # base64url of 64 random bytes
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("retire_at", sa.Float),  # cursors sealed with it open until then; None: current
)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    """What a client or an API key was given: scopes and claims."""

    scopes: tuple[str, ...]
    claims: dict[str, Any]


@dataclass(frozen=True)
class ClientRecord:
    client_id: str
    name: str
    secret_sha256: str
    grant: Grant
    created_at: float


@dataclass(frozen=True)
class ApiKeyRecord:
    prefix: str
    name: str
    secret_sha256: str
    grant: Grant
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def usable(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    material: dict[str, Any]  # {"public": JWK, "sealed": ...}; a bare private JWK when in clear
    created_at: float
    active: bool
    retire_at: float | None


@dataclass(frozen=True)
class CursorKey:
    kid: str  # hex
    secret: bytes
    created_at: float
    retire_at: float | None


class StateUnavailable(Exception):
    """The wrapper's own database cannot be opened; the message says where and why."""


class StateStore:
    """Reads and writes the state database; creates its tables when missing."""

    def __init__(self, url: str) -> None:
        options: dict[str, Any] = {"pool_pre_ping": True}
        parsed = sa.make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
            # an in-memory database lives in its connection: share one between threads
            options = {"poolclass": sa.StaticPool, "connect_args": {"check_same_thread": False}}
        self.engine = sa.create_engine(url, **options)
        try:
            create_missing(self.engine, metadata)
        except sa.exc.DBAPIError as err:
            self.engine.dispose()
            shown = parsed.render_as_string(hide_password=True)
            reason = str(err.orig).strip().splitlines()[0] if err.orig else type(err).__name__
            raise StateUnavailable(
                f"cannot open the wrapper's state database {shown}: {reason} "
                "(the `state:` setting names it)"
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ clients

    def add_client(self, client_id: str, name: str, secret: str, grant: Grant) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                clients.insert().values(
                    client_id=client_id,
                    name=name,
                    secret_sha256=digest(secret),
                    scopes=" ".join(grant.scopes),
                    claims=json.dumps(grant.claims),
                    created_at=time.time(),
                )
            )

    def client(self, client_id: str) -> ClientRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(clients.select().where(clients.c.client_id == client_id)).first()
        return _client(row) if row else None

    def clients(self) -> list[ClientRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(clients.select().order_by(clients.c.name)).all()
        return [_client(r) for r in rows]

    def remove_client(self, name: str) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(clients.delete().where(clients.c.name == name))
        return result.rowcount > 0

    # ------------------------------------------------------------------ API keys

    def add_api_key(
        self, prefix: str, name: str, secret: str, grant: Grant, expires_at: float | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                api_keys.insert().values(
                    prefix=prefix,
                    name=name,
                    secret_sha256=digest(secret),
                    scopes=" ".join(grant.scopes),
                    claims=json.dumps(grant.claims),
                    created_at=time.time(),
                    expires_at=expires_at,
                )
            )

    def api_key(self, prefix: str) -> ApiKeyRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(api_keys.select().where(api_keys.c.prefix == prefix)).first()
        return _api_key(row) if row else None

    def api_keys(self) -> list[ApiKeyRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(api_keys.select().order_by(api_keys.c.created_at)).all()
        return [_api_key(r) for r in rows]

    def revoke_api_key(self, prefix: str) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                api_keys.update()
                .where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return result.rowcount > 0

    # ------------------------------------------------------------------ signing keys

    def signing_keys(self, now: float | None = None, *, retired: bool = False) -> list[SigningKey]:
        """The keys still published: the active one and those not yet retired
        (`retired=True`: every key stored, newest first)."""
        now = time.time() if now is None else now
        query = signing_keys.select().order_by(signing_keys.c.created_at.desc())
        if not retired:
            query = query.where(
                sa.or_(signing_keys.c.retire_at.is_(None), signing_keys.c.retire_at > now)
            )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            SigningKey(r.kid, r.alg, json.loads(r.private_jwk), r.created_at, r.active, r.retire_at)
            for r in rows
        ]

    def add_signing_key(
        self, kid: str, alg: str, material: dict[str, Any], retire_old_at: float
    ) -> None:
        """Make a new key the active one; the previous ones stay published until
        `retire_old_at`, so tokens they signed remain valid until they expire."""
        with self.engine.begin() as conn:
            conn.execute(
                signing_keys.update()
                .where(signing_keys.c.active.is_(True))
                .values(active=False, retire_at=retire_old_at)
            )
            conn.execute(
                signing_keys.insert().values(
                    kid=kid,
                    alg=alg,
                    private_jwk=json.dumps(material),
                    created_at=time.time(),
                    active=True,
                    retire_at=None,
                )
            )

    def replace_signing_key_material(
        self, kid: str, old: dict[str, Any], new: dict[str, Any]
    ) -> bool:
        """Store `new` for `kid` if it still holds `old` (False: another process did)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                signing_keys.update()
                .where(signing_keys.c.kid == kid, signing_keys.c.private_jwk == json.dumps(old))
                .values(private_jwk=json.dumps(new))
            )
        return result.rowcount > 0

    # ------------------------------------------------------------------ cursor keys

    def cursor_keys(self, now: float | None = None) -> list[CursorKey]:
        """The keys that still open cursors, newest first (the first one seals)."""
        now = time.time() if now is None else now
        table = cursor_keys
        with self.engine.connect() as conn:
            rows = conn.execute(
                table.select()
                .where(sa.or_(table.c.retire_at.is_(None), table.c.retire_at > now))
                .order_by(table.c.created_at.desc(), table.c.kid.desc())
            ).all()
        return [
            CursorKey(r.kid, base64.urlsafe_b64decode(r.secret), r.created_at, r.retire_at)
            for r in rows
        ]

    def add_cursor_key(
        self, kid: str, secret: bytes, retire_old_at: float | None, now: float | None = None
    ) -> None:
        """A new current key; with `retire_old_at`, every previous key opens cursors
        until then at the latest (a key already retiring earlier keeps its date)."""
        table = cursor_keys
        with self.engine.begin() as conn:
            if retire_old_at is not None:
                conn.execute(
                    table.update()
                    .where(sa.or_(table.c.retire_at.is_(None), table.c.retire_at > retire_old_at))
                    .values(retire_at=retire_old_at)
                )
            conn.execute(
                table.insert().values(
                    kid=kid,
                    secret=base64.urlsafe_b64encode(secret).decode("ascii"),
                    created_at=time.time() if now is None else now,
                    retire_at=None,
                )
            )


def _grant(row: Any) -> Grant:
    return Grant(tuple(row.scopes.split()), json.loads(row.claims))


def _client(row: Any) -> ClientRecord:
    return ClientRecord(row.client_id, row.name, row.secret_sha256, _grant(row), row.created_at)


def _api_key(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        row.prefix,
        row.name,
        row.secret_sha256,
        _grant(row),
        row.created_at,
        row.expires_at,
        row.revoked_at,
    )
