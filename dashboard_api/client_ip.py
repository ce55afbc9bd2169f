"""The visitor's IP address, believing X-Forwarded-For only from trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The networks whose X-Forwarded-For we believe (one object, so DI can carry it)."""

    def __init__(self, networks: Sequence[Network] = ()) -> None:
        self.networks = tuple(networks)

    def __contains__(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


def parse_networks(text: str) -> TrustedProxies:
    """``"10.0.0.0/8, 127.0.0.1"`` -> trusted proxies; ValueError names the bad entry."""
    networks: list[Network] = []
    for part in text.split(","):
        part = part.strip()
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or CIDR network") from None
    return TrustedProxies(networks)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: TrustedProxies) -> str:
    """Walk X-Forwarded-For from the right while hops are trusted proxies; the first untrusted
    hop is the client. Without a trusted peer the header is ignored (anyone can send it)."""
    address = peer or "unknown"
    if not forwarded_for or address not in trusted:
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = hop
        if hop not in trusted:
            break
    return address
