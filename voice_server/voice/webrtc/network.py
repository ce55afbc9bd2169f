"""Network settings for aiortc: ICE servers, the interfaces to gather on, the advertised address.

aiortc takes ICE servers per peer connection (and falls back to Google's public STUN server
when given none, which stalls gathering on an offline host: so an empty list is always passed).
aioice has no per-connection hook to choose interfaces (aiortc/aioice#2, #57): it lists every
address of every interface in ``aioice.ice.get_host_addresses``. :func:`gather_only_on`
replaces that function for the app's lifetime with one that keeps the configured interfaces,
and restores it on exit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import aioice.ice
import ifaddr
from aiortc import RTCConfiguration, RTCIceServer

from voice_server.settings import Settings


@dataclass(frozen=True)
class NetworkConfig:
    ice_servers: tuple[RTCIceServer, ...] = ()
    host_address: str | None = None
    interfaces: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: Settings) -> NetworkConfig:
        password = settings.webrtc_turn_password
        servers = []
        for url in (u.strip() for u in settings.webrtc_ice_servers.split(",")):
            if not url:
                continue
            if url.startswith("turn"):
                servers.append(
                    RTCIceServer(
                        urls=url,
                        username=settings.webrtc_turn_username,
                        credential=password.get_secret_value() if password else None,
                    )
                )
            else:
                servers.append(RTCIceServer(urls=url))
        return cls(
            ice_servers=tuple(servers),
            host_address=settings.webrtc_host_address,
            interfaces=frozenset(
                part.strip() for part in settings.webrtc_interfaces.split(",") if part.strip()
            ),
        )

    def rtc_configuration(self) -> RTCConfiguration:
        return RTCConfiguration(iceServers=list(self.ice_servers))


def addresses_on(interfaces: frozenset[str], adapters: list[ifaddr.Adapter]) -> set[str]:
    """The IP addresses of ``adapters`` that ``interfaces`` names (by interface name or by
    address)."""
    kept: set[str] = set()
    for adapter in adapters:
        for ip in adapter.ips:
            address = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            if interfaces & {adapter.nice_name, adapter.name, address}:
                kept.add(address)
    return {str(ipaddress.ip_address(a.split("%")[0])) for a in kept}


@contextmanager
def gather_only_on(interfaces: frozenset[str]) -> Iterator[None]:
    """While active, aioice gathers host candidates only on ``interfaces`` (no-op if empty)."""
    if not interfaces:
        yield
        return
    original = aioice.ice.get_host_addresses

    def filtered(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        allowed = addresses_on(interfaces, list(ifaddr.get_adapters()))
        return [a for a in original(use_ipv4, use_ipv6) if _normal(a) in allowed]

    aioice.ice.get_host_addresses = filtered
    try:
        yield
    finally:
        if aioice.ice.get_host_addresses is filtered:
            aioice.ice.get_host_addresses = original


def _normal(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address.split("%")[0]))
    except ValueError:
        return address
