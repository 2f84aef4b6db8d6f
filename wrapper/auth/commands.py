"""`legacy-wrapper clients|keys|signing-keys`: manage the wrapper's own credentials.

They read only the configuration's `auth:` section and the state database;
the legacy database is not touched. Secrets are printed once and never again.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import click

from wrapper.state.store import Grant, StateStore

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(2)


def _config(path: Path) -> Any:
    from wrapper.config import ConfigError, load_config

    try:
        config = load_config(path)
    except ConfigError as err:
        _fail("the configuration has problems:\n" + "\n".join(f"  {p}" for p in err.problems))
    if config.auth is None:
        _fail(f"{path} has no `auth:` section")
    return config


def declared_scopes(config: Any) -> set[str]:
    from wrapper.mapping.model import WEBHOOKS_SCOPE

    scopes: set[str] = {WEBHOOKS_SCOPE}
    for version in config.versions:
        for res in version.resources:
            for required in res.scopes.values():
                scopes.update(required)
            for f in res.fields:
                scopes.update(s for s in (f.scope, f.rows and f.rows.unless_scope) if s)
    return scopes


def _grant(config: Any, scopes: str, claims: tuple[str, ...]) -> Grant:
    wanted = tuple(dict.fromkeys(scopes.split()))
    if not wanted:
        _fail("give at least one scope: --scopes 'jobs:read orders:read'")
    unknown = sorted(set(wanted) - declared_scopes(config))
    if unknown:
        click.echo(f"warning: the mapping declares no scope {', '.join(unknown)}", err=True)
    values: dict[str, Any] = {}
    for item in claims:
        name, sep, value = item.partition("=")
        if not sep or not name:
            _fail(f"--claim takes NAME=VALUE, not {item!r}")
        values[name] = json.loads(value) if value.startswith("[") else value
    return Grant(wanted, values)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="The configuration file (its `auth.state` names the state database).",
)
scopes_option = click.option("--scopes", required=True, help="Space-separated scopes.")
claim_option = click.option(
    "--claim", "claims", multiple=True, help="NAME=VALUE added to every token (repeatable)."
)


def _store(config: Any) -> StateStore:
    return StateStore(config.auth.state)


@click.group()
def clients() -> None:
    """OAuth clients of the built-in authorization server (client credentials)."""


@clients.command("add")
@click.argument("name")
@scopes_option
@claim_option
@config_option
def clients_add(name: str, scopes: str, claims: tuple[str, ...], config_path: Path) -> None:
    """Register a client and print its id and secret (shown once)."""
    from sqlalchemy.exc import IntegrityError

    from wrapper.auth.server import create_client

    config = _config(config_path)
    grant = _grant(config, scopes, claims)
    try:
        client_id, secret = create_client(_store(config), name, grant)
    except IntegrityError:
        _fail(f"a client named {name!r} exists already")
    click.echo(f"client_id:     {client_id}\nclient_secret: {secret}")
    click.echo("the secret is shown once; it is stored hashed", err=True)


@clients.command("list")
@config_option
def clients_list(config_path: Path) -> None:
    for c in _store(_config(config_path)).clients():
        claims = " ".join(f"{k}={v}" for k, v in c.grant.claims.items())
        click.echo(f"{c.name:<24} {c.client_id:<40} {' '.join(c.grant.scopes)}  {claims}".rstrip())


@clients.command("remove")
@click.argument("name")
@config_option
def clients_remove(name: str, config_path: Path) -> None:
    """Remove a client: no new tokens; issued ones last until they expire."""
    if not _store(_config(config_path)).remove_client(name):
        _fail(f"no client named {name!r}")
    click.echo(f"removed {name}; its unexpired tokens stay valid until they expire", err=True)


@click.group()
def keys() -> None:
    """API keys for server-to-server consumers."""


@keys.command("add")
@click.argument("name")
@scopes_option
@claim_option
@click.option("--expires-in", default="365d", show_default=True, help="e.g. 90d, 12h, or never.")
@config_option
def keys_add(
    name: str, scopes: str, claims: tuple[str, ...], expires_in: str, config_path: Path
) -> None:
    """Create an API key and print it (shown once)."""
    from wrapper.auth.apikeys import create_api_key

    config = _config(config_path)
    grant = _grant(config, scopes, claims)
    expires_at = None
    if expires_in != "never":
        match = _DURATION.match(expires_in)
        if not match:
            _fail("--expires-in takes e.g. 90d, 12h, 30m or never")
        expires_at = time.time() + int(match[1]) * _UNITS[match[2]]
    prefix, key = create_api_key(_store(config), name, grant, expires_at)
    click.echo(key)
    header = config.auth.api_key_header
    click.echo(f"prefix {prefix}; send it as `{header}: <key>`; shown once", err=True)


@keys.command("list")
@config_option
def keys_list(config_path: Path) -> None:
    now = time.time()
    for k in _store(_config(config_path)).api_keys():
        state = "revoked" if k.revoked_at else "expired" if not k.usable(now) else "active"
        expires = time.strftime("%Y-%m-%d", time.gmtime(k.expires_at)) if k.expires_at else "never"
        click.echo(f"{k.prefix}  {state:<8} {expires:<10} {k.name:<24} {' '.join(k.grant.scopes)}")


@keys.command("revoke")
@click.argument("prefix")
@config_option
def keys_revoke(prefix: str, config_path: Path) -> None:
    config = _config(config_path)
    if not _store(config).revoke_api_key(prefix):
        _fail(f"no active API key with prefix {prefix!r}")
    seconds = config.auth.api_key_cache_seconds
    click.echo(f"revoked {prefix}; every worker refuses it within {seconds:g} s", err=True)


@click.group("signing-keys")
def signing_keys() -> None:
    """The built-in server's token signing keys."""


@signing_keys.command("rotate")
@config_option
def signing_keys_rotate(config_path: Path) -> None:
    """A new signing key; older keys stay published until their tokens expire.
    Needs the state key (LEGACY_WRAPPER_STATE_KEY or auth.server.state_key_file)."""
    from wrapper.auth.sealing import StateKeyError, load_state_key
    from wrapper.auth.signing import rotate

    config = _config(config_path)
    if config.auth.server is None:
        _fail("the configuration has no built-in server (auth.server)")
    try:
        kid = rotate(_store(config), config.auth, load_state_key(config.auth.server.state_key_file))
    except StateKeyError as err:
        _fail(str(err))
    click.echo(f"new signing key {kid}", err=True)


@signing_keys.command("new-state-key")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write it to this new file (owner-only); else print it.",
)
def signing_keys_new_state_key(out: Path | None) -> None:
    """Create a state key: it encrypts the signing keys in the state database.
    Keep it apart from that database and its backups."""
    from wrapper.auth.sealing import new_state_key, write_state_key_file

    if out is None:
        click.echo(new_state_key())
        return
    try:
        write_state_key_file(out)
    except FileExistsError:
        _fail(f"{out} exists already; it may be the key your signing keys need")
    except OSError as err:
        _fail(f"cannot write {out}: {err.strerror}")
    click.echo(
        f"wrote {out}; name it in auth.server.state_key_file or put its content in "
        "LEGACY_WRAPPER_STATE_KEY",
        err=True,
    )


@signing_keys.command("list")
@config_option
def signing_keys_list(config_path: Path) -> None:
    for k in _store(_config(config_path)).signing_keys():
        until = (
            "active"
            if k.active
            else "published until " + time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(k.retire_at))
        )
        click.echo(f"{k.kid}  {k.alg}  {until}")
