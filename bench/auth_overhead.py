"""Auth overhead on the read path, in process (no HTTP server noise).

    .venv/bin/python -m bench.auth_overhead [--requests 3000] [--rounds 5]

Builds the demo (SQLite) twice, with and without auth, gets a dashboard token
from the built-in server, then alternates rounds of GET /v1/jobs/{id} through
Flask's test client and reports the best round of each (CPU microseconds a
request), then the cost of `authorize` alone for a token already validated.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from wrapper.app import create_app
from wrapper.config import load_config
from wrapper.demo import prepare_demo, reset_personas


def _round(client, url: str, headers: dict[str, str], n: int) -> float:  # type: ignore[no-untyped-def]
    started = time.process_time()  # CPU time: other load on the machine does not count
    for _ in range(n):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_json()
    return (time.process_time() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", default="/v1/jobs/100005")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config_path = prepare_demo(Path(tmp), orders=2000)
        personas = {name: (cid, secret) for name, cid, secret, _, _ in reset_personas(config_path)}
        config = load_config(config_path)
        plain = create_app(config, no_auth=True).test_client()
        guarded = create_app(config).test_client()
        token = guarded.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=personas["dashboard"]
        ).get_json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        without, with_auth = [], []
        for _ in range(args.rounds):  # the same header both ways: only the auth work differs
            without.append(_round(plain, args.url, headers, args.requests))
            with_auth.append(_round(guarded, args.url, headers, args.requests))
        best_without, best_with = min(without), min(with_auth)
        print(f"{args.url}: {args.rounds} rounds of {args.requests} requests, best round")
        print(f"  without auth  {best_without:8.1f} us/request")
        print(f"  with auth     {best_with:8.1f} us/request")
        extra = best_with - best_without
        print(f"  overhead      {extra:8.1f} us ({best_with / best_without - 1:+.1%})")
        app = guarded.application
        guard = app.extensions["legacy_wrapper_auth"]
        jobs = app.extensions["legacy_wrapper"].mapping.resource("v1", "jobs")
        with app.test_request_context(args.url, headers=headers):
            started = time.process_time()
            for _ in range(args.requests * 10):
                guard.authorize(jobs, "item")
            alone = (time.process_time() - started) / (args.requests * 10) * 1e6
        print(f"  authorize() alone, cached token: {alone:.1f} us")


if __name__ == "__main__":
    main()
