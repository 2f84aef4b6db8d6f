"""`serve` with auth for real: a token from one worker is accepted by every worker."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from wrapper.demo import AUTH_SECTION, ensure_state_key, reset_personas

from ...support.demo import build_demo, write_config
from ...support.servers import free_port, serving


def call(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, Any, Any]:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers, json.loads(err.read())


@pytest.mark.slow
@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_serve_with_auth(tmp_path: Path, server: str) -> None:
    port = free_port()
    url = build_demo(tmp_path, orders=100)
    config = write_config(tmp_path, url, AUTH_SECTION.format(bind=f"127.0.0.1:{port}"), auth=False)
    ensure_state_key(tmp_path)
    personas = {name: (cid, secret) for name, cid, secret, _, _ in reset_personas(config)}
    with serving(config, "--workers", "2", "--server", server, port=port) as (base, _):
        status, headers, body = call(f"{base}/v1/jobs")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        basic = base64.b64encode(":".join(personas["floor supervisor WC03"]).encode()).decode()
        status, _, body = call(
            f"{base}/oauth/token",
            data=b"grant_type=client_credentials",
            headers={"Authorization": f"Basic {basic}"},
        )
        assert status == 200, body
        auth = {"Authorization": f"Bearer {body['access_token']}"}
        for _ in range(10):  # spread over both workers
            status, _, page = call(f"{base}/v1/jobs?limit=20", headers=auth)
            assert status == 200 and {j["work_center"] for j in page["data"]} == {"WC03"}
        status, headers, _ = call(f"{base}/v1/orders", headers=auth)
        assert status == 403 and 'scope="orders:read"' in headers["WWW-Authenticate"]
