"""The demo's pieces for webhooks: its personas subscribe through the API, a job
changed by the legacy side (`wrapper.demo.change_job`) reaches the demo receiver,
which verifies the signature with standardwebhooks (and refuses a wrong one)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask

from wrapper.app import create_app
from wrapper.config import load_config
from wrapper.demo import prepare_demo, reset_personas
from wrapper.demo.change_job import change_job
from wrapper.demo.receiver import handler, verifier
from wrapper.events.envelope import change_event, loads
from wrapper.events.signing import new_secret

from ...support.tokens import client_token
from .conftest import deliver


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, dict, Path]]:
    folder = tmp_path_factory.mktemp("demo")
    config = prepare_demo(folder, orders=40)
    personas = {name: (cid, secret) for name, cid, secret, *_ in reset_personas(config)}
    app = create_app(load_config(config))
    yield app, personas, folder
    app.extensions["legacy_wrapper"].close()


class DemoReceiver:
    def __init__(self, secret: str) -> None:
        self.out = io.StringIO()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler(verifier(secret), self.out))
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_changed_job_reaches_the_demo_receiver_signed(demo) -> None:
    app, personas, folder = demo
    client = app.test_client()
    headers = client_token(client, *personas["dashboard"])
    job = loads(client.get("/v1/jobs?status=running&limit=1", headers=headers).get_data())
    job = job["data"][0]
    assert change_job(folder / "plant.db", job["job_id"], "held")
    held = loads(client.get(f"/v1/jobs/{job['job_id']}", headers=headers).get_data())
    assert held["status"] == "held"

    hooks = app.extensions["legacy_wrapper"].webhooks
    for secret_of, verdict in ((lambda made: made["secret"], "signature verified"),
                               (lambda _made: new_secret(), "REFUSED")):  # fmt: skip
        receiver = DemoReceiver("")
        try:
            made = client.post(
                "/v1/webhooks", json={"url": receiver.url, "event_types": ["jobs.*"]},
                headers=headers,
            ).get_json()  # fmt: skip
            receiver.server.RequestHandlerClass = handler(verifier(secret_of(made)), receiver.out)
            event = change_event(
                "jobs", "updated", "v1", str(job["job_id"]), held, changed_fields=("status",)
            )
            deliver(hooks, event)
            printed = receiver.out.getvalue()
            assert f"{event.id} jobs.updated {job['job_id']} ({verdict}" in printed
            assert '"status": "held"' in printed
            log = client.get(f"/v1/webhooks/{made['id']}/deliveries", headers=headers).get_json()
            codes = {a["status_code"] for a in log["items"][0]["log"]}
            assert codes == ({204} if verdict == "signature verified" else {400})
        finally:
            receiver.close()
            client.delete(f"/v1/webhooks/{made['id']}", headers=headers)


def test_the_customer_portal_persona_may_subscribe_to_its_orders_only(demo) -> None:
    app, personas, _ = demo
    client = app.test_client()
    headers = client_token(client, *personas["customer portal C0001005"])
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["orders.*"]}
    made = client.post("/v1/webhooks", json=body, headers=headers)
    assert made.status_code == 201, made.get_json()
    refused = client.post("/v1/webhooks", json=body | {"url": "http://10.0.0.1/"}, headers=headers)
    assert refused.status_code == 400 and refused.get_json()["field"] == "url"
    jobs = client.post("/v1/webhooks", json=body | {"event_types": ["jobs.*"]}, headers=headers)
    assert jobs.status_code == 403
