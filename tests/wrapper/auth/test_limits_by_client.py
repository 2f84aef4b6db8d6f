"""Rate limits key on the authenticated client and its scopes, not on the address."""

from __future__ import annotations

from pathlib import Path

from wrapper.app import create_app

from ...support.demo import demo_config
from ...support.tokens import Tokens, auth_section


def test_each_client_has_its_own_limit_and_scope_tier(demo_url: str, idp, tmp_path: Path) -> None:
    limits = "limits:\n  storage: memory://\n  default: 3/minute\n  scopes: {jobs:all_work_centers: 5/minute}\n"
    app = create_app(
        demo_config(demo_url, extra=auth_section(tmp_path / "auth.db", idp.url) + limits)
    )
    try:
        tokens = Tokens(app)
        first = tokens("jobs:read", work_center="WC01")
        second = tokens("jobs:read", work_center="WC02")
        dashboard = tokens("jobs:read jobs:all_work_centers")
        client = app.test_client()

        def statuses(headers: dict[str, str], n: int) -> list[int]:
            return [client.get("/v1/jobs?limit=1", headers=headers).status_code for _ in range(n)]

        assert statuses(first, 4) == [200, 200, 200, 429]
        assert statuses(second, 3) == [200, 200, 200]  # another client, same address
        assert statuses(dashboard, 6) == [200] * 5 + [429]  # its scope's tier
        refused = client.get("/v1/jobs?limit=1", headers=first)
        assert refused.mimetype == "application/problem+json"
        assert int(refused.headers["Retry-After"]) > 0
        assert "RateLimit" in refused.headers
    finally:
        app.extensions["legacy_wrapper"].close()
