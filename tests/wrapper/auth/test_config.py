"""The auth: section and the mapping's scopes and rules: every problem with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from wrapper.config import ConfigError, parse_config

BASE = (
    "source: {url: 'sqlite://'}\nversions:\n  v1:\n    resources:\n      jobs:\n        table: J\n"
)


def problems(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, filename="w.yaml")
    return "\n".join(info.value.problems)


def test_a_complete_auth_section(tmp_path: Path) -> None:
    key = tmp_path / "idp.pem"
    key.write_text("x")
    text = (
        BASE
        + "        scopes: {list: jobs:read, item: [jobs:read, jobs:one]}\n"
        + "        fields:\n"
        + "          wc: {column: WC, rows: {claim: work_center, unless_scope: jobs:all}}\n"
        + "          price: {column: P, scope: jobs:pricing}\n"
        + "auth:\n  audience: api\n  state: auth.db\n  clock_skew: 10\n"
        + "  api_key_refused_cache_seconds: 30\n"
        + "  server: {issuer: 'http://h', token_lifetime: 300, algorithm: ES256,"
        + " state_key_file: keys/state.key}\n"
        + "  issuers:\n"
        + "    - {issuer: 'https://idp/', jwks_url: 'https://idp/jwks'}\n"
        + "    - {issuer: file, key_file: idp.pem, algorithms: [ES256]}\n"
    )
    config = parse_config(text, base_dir=tmp_path)
    auth = config.auth
    assert auth is not None and auth.audience == "api" and auth.clock_skew == 10
    assert auth.api_key_refused_cache_seconds == 30
    assert auth.state == f"sqlite:///{(tmp_path / 'auth.db').resolve()}"
    assert auth.server is not None and auth.server.token_lifetime == 300
    assert auth.server.state_key_file == (tmp_path / "keys" / "state.key").resolve()
    assert [i.issuer for i in auth.issuers] == ["https://idp/", "file"]
    res = config.versions[0].resources[0]
    assert res.scopes == {"list": ("jobs:read",), "item": ("jobs:read", "jobs:one")}
    assert (
        res.fields[0].rows.claim == "work_center" and res.fields[0].rows.unless_scope == "jobs:all"
    )
    assert res.fields[1].scope == "jobs:pricing"


def test_auth_problems_name_file_and_line() -> None:
    text = (
        BASE
        + "        scopes: 'bad scope\"'\n"
        + "        fields: {a: {column: A, scope: 7, rows: {}}}\n"
        + "auth:\n"
        + "  state: auth.db\n"
        + "  server: {issuer: 'http://h', token_lifetime: 0, algorithm: none}\n"
        + "  issuers:\n"
        + "    - {issuer: a, jwks_url: 'ftp://x', shared_secret: short}\n"
        + "    - {issuer: b, shared_secret: short, algorithms: [RS256]}\n"
        + "    - {issuer: c, jwks_url: 'https://c/', algorithms: [HS256]}\n"
        + "  colour: blue\n"
    )
    found = problems(text)
    for expected in (
        "w.yaml:7: versions.v1.resources.jobs.scopes",
        "versions.v1.resources.jobs.fields.a.scope: must be one scope",
        "fields.a.rows.claim",
        "auth.audience: a non-empty string is required",
        "auth.server.token_lifetime",
        "auth.server.algorithm",
        "auth.issuers[0]: give exactly one of jwks_url, key_file, shared_secret",
        "auth.issuers[1].algorithms: a shared secret is HS256 only",
        "auth.issuers[1].shared_secret: at least 32 characters",
        "auth.issuers[2].algorithms: HS256 needs a shared_secret",
        "auth.colour: unknown key",
    ):
        assert expected in found, (expected, found)
    assert "w.yaml:16: auth.colour" in found


def test_secrets_are_not_printed() -> None:
    text = BASE + "        fields: {a: A}\nauth:\n  audience: a\n  state: s.db\n  issuers:\n"
    text += "    - {issuer: x, shared_secret: '" + "k" * 40 + "'}\n"
    assert "k" * 40 not in repr(parse_config(text).auth)


def test_a_row_rule_needs_a_comparable_field(demo_url: str) -> None:
    from wrapper.app import create_app

    text = (
        f'source: {{url: "{demo_url}"}}\nversions:\n  v1:\n    resources:\n      customers:\n'
        "        table: CUSTMAST\n        scopes: customers:read\n        fields:\n"
        "          customer_no: CUST_NO\n"
        "          note: {column: NOTE_TX, convert: bytes, rows: note}\n"
    )
    with pytest.raises(ConfigError) as info:
        create_app(parse_config(text, filename="w.yaml"), no_auth=True)
    assert "w.yaml:10: versions.v1.resources.customers.fields.note.rows: bytes values" in str(
        info.value
    )
