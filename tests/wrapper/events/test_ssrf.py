"""The SSRF guard: which addresses a webhook may reach, and that the connection goes
to the checked address with the right Host header and TLS server name."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wrapper.events.delivery import DeliveryEngine
from wrapper.events.errors import TargetRefused
from wrapper.events.queue import Due
from wrapper.events.signing import new_secret
from wrapper.events.ssrf import TargetPolicy, blocked_reason, check_url, parse_target, resolve

from .conftest import FAST
from .receiver import Receiver

BLOCKED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.1.1", "link-local"),
    ("169.254.169.254", "cloud metadata service"),
    ("100.64.0.1", "shared address space (CGNAT)"),
    ("100.127.255.254", "shared address space (CGNAT)"),
    ("0.0.0.0", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("255.255.255.255", "reserved"),
    ("198.18.0.1", "benchmarking"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("fd00:ec2::254", "cloud metadata service"),
    ("ff02::1", "multicast"),
    ("::ffff:127.0.0.1", "loopback (127.0.0.1 in IPv6 form)"),
    ("::ffff:10.0.0.1", "private (10.0.0.1 in IPv6 form)"),
    ("::ffff:169.254.169.254", "cloud metadata service (169.254.169.254 in IPv6 form)"),
    ("64:ff9b::7f00:1", "loopback (127.0.0.1 in IPv6 form)"),
    ("64:ff9b::a9fe:a9fe", "cloud metadata service (169.254.169.254 in IPv6 form)"),
    ("64:ff9b::c0a8:101", "private (192.168.1.1 in IPv6 form)"),
    ("2002:7f00:1::1", "loopback (127.0.0.1 in IPv6 form)"),
    ("2002:a00:1::", "private (10.0.0.1 in IPv6 form)"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2001:0:4136:e378::1", "Teredo"),
    ("::7f00:1", "IPv4-compatible"),
]
ALLOWED = [
    "93.184.216.34",
    "8.8.8.8",
    "100.63.255.255",
    "100.128.0.0",
    "172.32.0.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("address", "reason"), BLOCKED)
def test_blocked_addresses_name_their_reason(address: str, reason: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "127.0.0.1"])
def test_numeric_forms_of_loopback_are_refused_after_resolution(
    host: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(TargetRefused, match=r"resolves to a blocked address \(loopback\)"):
        check_url(f"http://{host}:8080/hook", TargetPolicy())
    assert f"{host} refused: 127.0.0.1 is loopback" in caplog.text  # for the operator only


def fixed(*addresses: str):
    """A resolver answering ``addresses`` for any name, counting its calls."""

    def resolver(host: str, port: int, **_: object) -> list[tuple]:
        resolver.calls.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    resolver.calls = []
    return resolver


@pytest.mark.parametrize(
    ("addresses", "refused"),
    [
        (("93.184.216.34",), None),
        (("10.0.0.5",), "resolves to a blocked address (private)"),
        (("93.184.216.34", "127.0.0.1"), "resolves to a blocked address (loopback)"),
        (("64:ff9b::7f00:1",), "loopback (127.0.0.1 in IPv6 form)"),
    ],
)
def test_a_name_is_refused_when_any_of_its_addresses_is(addresses, refused) -> None:
    resolver = fixed(*addresses)
    if refused is None:
        assert resolve("hooks.example", 443, TargetPolicy(), resolver) == list(addresses)
    else:
        with pytest.raises(TargetRefused, match=refused.replace("(", r"\(").replace(")", r"\)")):
            resolve("hooks.example", 443, TargetPolicy(), resolver)


@pytest.mark.parametrize(
    ("entries", "address", "allowed"),
    [
        (["127.0.0.0/8"], "127.0.0.1", True),
        (["127.0.0.1"], "127.0.0.2", False),
        (["10.20.0.0/16"], "10.20.3.4", True),
        (["10.20.0.0/16"], "10.21.3.4", False),
        (["10.20.0.0/16"], "::ffff:10.20.3.4", True),
        (["fd00::/8"], "fd00::1", True),
        (["169.254.0.0/16"], "169.254.10.10", True),
        (["169.254.0.0/16"], "169.254.169.254", False),  # metadata stays refused
        (["169.254.169.254/32"], "169.254.169.254", True),  # unless named itself
        (["hooks.internal"], "10.9.9.9", True),
        (["hooks.internal"], "169.254.169.254", False),
        (["other.internal"], "10.9.9.9", False),
    ],
)
def test_allowlist(entries: list[str], address: str, allowed: bool) -> None:
    policy = TargetPolicy.from_entries(entries)
    refusal = policy.refusal("hooks.internal", ipaddress.ip_address(address))
    assert (refusal is None) == allowed


@pytest.mark.parametrize("entry", ["", "10.0.0.0/33", "not a host", "http://x"])
def test_allowlist_entries_are_checked(entry: str) -> None:
    with pytest.raises(ValueError, match="allowlist entry"):
        TargetPolicy.from_entries([entry])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hooks.example/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("http:///nohost", "no host"),
        ("https://user:pw@hooks.example/", "user name or password"),
        ("https://hooks.example:99999/", "not a valid URL"),
        ("https://hooks.example/#x", "fragment"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(TargetRefused, match=message):
        parse_target(url)


def test_a_name_that_does_not_resolve_is_refused_at_subscription_time() -> None:
    def nowhere(*_a, **_k):
        raise socket.gaierror("Name or service not known")

    with pytest.raises(TargetRefused, match="does not resolve"):
        check_url("https://hooks.example/x", TargetPolicy(), nowhere)


def due(url: str) -> Due:
    return Due(1, "sub_x", "evt_1", url, b'{"a":1}', (new_secret(),), 1)


def test_delivery_refuses_a_name_that_now_resolves_to_a_blocked_address() -> None:
    engine = DeliveryEngine(None, FAST, resolver=fixed("169.254.169.254"))  # type: ignore[arg-type]
    try:
        outcome = engine.attempt(due("http://hooks.example/x"))
    finally:
        engine.close()
    assert outcome.status_code is None
    assert outcome.error == (
        "target refused: hooks.example resolves to a blocked address (cloud metadata service)"
    )


def test_the_connection_goes_to_the_checked_address_with_the_original_host() -> None:
    resolver = fixed("127.0.0.1")
    with Receiver() as receiver:
        engine = DeliveryEngine(None, FAST, resolver=resolver)  # type: ignore[arg-type]
        try:
            outcome = engine.attempt(due(f"http://hooks.test:{receiver.port}/x"))
        finally:
            engine.close()
    assert outcome.status_code == 204
    assert resolver.calls == ["hooks.test"]  # resolved once: no second lookup to rebind
    assert receiver.received()[0].headers["host"] == f"hooks.test:{receiver.port}"


def test_redirects_are_not_followed() -> None:
    with Receiver() as elsewhere, Receiver(answer=lambda _r: 302) as receiver:
        engine = DeliveryEngine(None, FAST)  # type: ignore[arg-type]
        try:
            outcome = engine.attempt(due(receiver.url))
        finally:
            engine.close()
    assert outcome.status_code == 302
    assert outcome.error == "HTTP 302 (redirects are not followed)"
    assert len(receiver.received()) == 1 and elsewhere.received() == []


def _certificates(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for ``name`` signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.mark.parametrize(("host", "verified"), [("hooks.test", True), ("other.test", False)])
def test_tls_uses_the_url_host_for_sni_and_the_certificate(
    tmp_path: Path, host: str, verified: bool
) -> None:
    ca, cert, key = _certificates(tmp_path, "hooks.test")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(ca))
    with Receiver(tls=server_tls) as receiver:
        engine = DeliveryEngine(
            None,  # type: ignore[arg-type]
            FAST,
            ssl_context=client_tls,
            resolver=fixed("127.0.0.1"),
        )
        try:
            outcome = engine.attempt(due(f"https://{host}:{receiver.port}/x"))
        finally:
            engine.close()
        assert receiver.server_names == [host]
        if verified:
            assert outcome.status_code == 204
            assert receiver.received()[0].headers["host"] == f"hooks.test:{receiver.port}"
        else:
            assert outcome.status_code is None
            assert "CERTIFICATE_VERIFY_FAILED" in (outcome.error or "")
            assert receiver.received() == []
