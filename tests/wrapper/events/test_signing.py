"""Our signatures, verified by the independent `standardwebhooks` library."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from wrapper.events.signing import new_secret, secret_key, webhook_headers

BODY = b'{"specversion":"1.0","id":"evt_1","type":"orders.updated","data":{"total":12.5}}'


def headers(*secrets: str, timestamp: int | None = None, body: bytes = BODY) -> dict[str, str]:
    now = int(time.time()) if timestamp is None else timestamp
    return webhook_headers("evt_1", now, body, [secret_key(s) for s in secrets])


def test_a_signed_request_verifies() -> None:
    secret = new_secret()
    assert Webhook(secret).verify(BODY, headers(secret))["id"] == "evt_1"


def test_during_rotation_both_the_old_and_the_new_secret_verify() -> None:
    old, new = new_secret(), new_secret()
    signed = headers(new, old)
    assert len(signed["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(BODY, signed)
    assert Webhook(new).verify(BODY, signed)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, signed)


@pytest.mark.parametrize("position", [0, len(BODY) // 2, len(BODY) - 1])
def test_a_one_byte_change_fails(position: int) -> None:
    secret = new_secret()
    signed = headers(secret)
    changed = bytearray(BODY)
    changed[position] ^= 0x01
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(secret).verify(bytes(changed), signed)


def test_a_changed_id_fails() -> None:
    secret = new_secret()
    signed = headers(secret) | {"webhook-id": "evt_2"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, signed)


@pytest.mark.parametrize(("offset", "message"), [(-360, "too old"), (360, "too new")])
def test_a_timestamp_six_minutes_off_fails(offset: int, message: str) -> None:
    secret = new_secret()
    with pytest.raises(WebhookVerificationError, match=message):
        Webhook(secret).verify(BODY, headers(secret, timestamp=int(time.time()) + offset))


@pytest.mark.parametrize("bad", ["sk_abc", "whsec_!!!", "whsec_c2hvcnQ="])
def test_malformed_secrets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="signing secret"):
        secret_key(bad)


def test_secrets_are_random_and_long() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("whsec_") and len(secret_key(a)) == 32
