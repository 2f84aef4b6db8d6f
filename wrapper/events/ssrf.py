"""Which addresses a webhook may reach, and a connection that goes only there.

A subscriber chooses the target URL, so without a guard a webhook is a way to
make the wrapper POST into its own network: the metadata service, a database
admin page on loopback, a router. The host is resolved once, every address it
resolves to is checked against an explicit blocklist, and the connection is
made to the checked address itself (no second lookup that DNS rebinding could
answer differently). The URL's host still names the TLS server (SNI and
certificate check) and the `Host` header.

`ipaddress.is_global` is not used: Python 3.11 passes the NAT64 and 6to4
forms of 127.0.0.1. IPv6 forms that carry an IPv4 address (mapped, NAT64,
6to4) are judged by that IPv4 address. The resolver turns `2130706433`,
`0x7f000001`, `0177.0.0.1` and `127.1` into 127.0.0.1, which the check then
sees as loopback.

An allowlist (CIDRs or host names) lets receivers on private networks or
loopback through; cloud metadata addresses stay refused unless listed
themselves.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from wrapper.events.errors import TargetRefused

log = logging.getLogger(__name__)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[..., list[tuple[Any, ...]]]

_V4_BLOCKED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
_V6_BLOCKED: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible"),
    ("100::/64", "discard-only"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("2001::/32", "Teredo"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)
BLOCKED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), reason) for cidr, reason in _V4_BLOCKED + _V6_BLOCKED
)
METADATA: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIIT = ipaddress.ip_network("::ffff:0:0:0/96")


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _SIIT:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be reached, or None when it may."""
    v4 = embedded_ipv4(address)
    if v4 is not None:
        reason = blocked_reason(v4)
        return f"{reason} ({v4} in IPv6 form)" if reason else None
    if address in METADATA:
        return "cloud metadata service"
    for network, reason in BLOCKED:
        if address.version == network.version and address in network:
            return reason
    return None


@dataclass(frozen=True)
class TargetPolicy:
    """The allowlist: networks and host names that may be reached although blocked."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> TargetPolicy:
        """Entries are CIDRs (`10.1.0.0/16`), addresses (`127.0.0.1`) or host names."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in entries:
            text = entry.strip()
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                if not text or "/" in text or ":" in text or " " in text:
                    raise ValueError(f"allowlist entry {entry!r} is no CIDR or host") from None
                hosts.add(_host_key(text))
        return cls(tuple(networks), frozenset(hosts))

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why ``address`` (resolved from ``host``) is refused under this policy, or None."""
        forms = [address] + [a for a in (embedded_ipv4(address),) if a is not None]
        if any(a in METADATA for a in forms):
            listed = any(n.num_addresses == 1 and a in n for a in forms for n in self.networks)
            return None if listed else "cloud metadata service"
        reason = blocked_reason(address)
        if reason is None or _host_key(host) in self.hosts:
            return None
        allowed = any(a.version == n.version and a in n for a in forms for n in self.networks)
        return None if allowed else reason


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def parse_target(url: str) -> Target:
    """Scheme, host and port of a webhook URL; refuses anything but plain http(s) URLs."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise TargetRefused(f"not a valid URL: {err}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("the URL must start with http:// or https://")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL may not carry a user name or password")
    if parts.fragment:
        raise TargetRefused("the URL may not have a #fragment")
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default)


def resolve(
    host: str, port: int, policy: TargetPolicy, resolver: Resolver = socket.getaddrinfo
) -> list[str]:
    """The addresses ``host`` resolves to, all of them checked; raises `TargetRefused`
    when any is refused, and `socket.gaierror` when the name does not resolve.

    The refusal names the kind of address, not the address: subscribers read it
    (in errors and the delivery log) and must not learn how internal names
    resolve. The log has the address for the operator."""
    infos = resolver(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0])
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = policy.refusal(host, address)
        if reason:
            log.warning("webhook target %s refused: %s is %s", host, address, reason)
            raise TargetRefused(f"{host} resolves to a blocked address ({reason})")
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise socket.gaierror(f"{host} resolves to no address")
    return addresses


def check_url(url: str, policy: TargetPolicy, resolver: Resolver = socket.getaddrinfo) -> Target:
    """Refuses a URL that is malformed, does not resolve or reaches a blocked address."""
    target = parse_target(url)
    try:
        resolve(target.host, target.port, policy, resolver)
    except (socket.gaierror, UnicodeError) as err:
        raise TargetRefused(f"{target.host} does not resolve: {err}") from None
    return target


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()
