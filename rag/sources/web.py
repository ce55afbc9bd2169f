"""Fetch one web page with limits: size, time, redirects, and no private-network addresses.

Addresses are checked after DNS resolution and again at every redirect, so that a public name
pointing at 127.0.0.1 or a cloud metadata address is refused as surely as the literal address.
The connection then goes to the address that was checked - never to a second lookup of the
name, which a hostile DNS server could answer differently (DNS rebinding): the request is sent
to the IP, with the name in the ``Host`` header and, for https, as the TLS server name (SNI)
that the certificate is verified against.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from rag.errors import FetchFailed, FetchRefused
from voice_server.errors import PayloadTooLarge

# host, port -> the addresses the name resolves to (a fake in tests)
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchedPage:
    url: str  # after redirects
    content: bytes
    content_type: str | None


def check_host_name(host: str) -> None:
    """Refuse host names DNS cannot carry (RFC 1035: labels of at most 63 bytes, 253 in all)
    here, with a clear message, rather than as an encoding error deep in the resolver."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return
    except ValueError:
        pass
    try:
        encoded = host.encode("idna")
    except UnicodeError:
        raise FetchRefused(
            "the URL's host name is not a valid DNS name (a label over 63 characters?)"
        ) from None
    labels = encoded.rstrip(b".").split(b".")
    if len(encoded) > 253 or any(not 1 <= len(label) <= 63 for label in labels):
        raise FetchRefused(
            "the URL's host name is not a valid DNS name (labels of 1 to 63 characters, 253 in all)"
        )


async def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise FetchRefused(f"the host {host!r} does not resolve") from None
    return [str(info[4][0]) for info in infos]


async def check_address(
    url: str, *, allow_private: bool, resolver: Resolver = system_resolver
) -> str:
    """Check ``url`` and resolve its host; returns the one address to connect to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        scheme = parts.scheme or "none"
        raise FetchRefused(f"only http and https URLs can be fetched (got {scheme})")
    host = parts.hostname
    if not host:
        raise FetchRefused("the URL has no host")
    check_host_name(host)
    if parts.username or parts.password:
        raise FetchRefused("URLs with credentials are not fetched")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await resolver(host, port)
    if not addresses:
        raise FetchRefused(f"the host {host!r} does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not allow_private and (not address.is_global or address.is_multicast):
            raise FetchRefused(
                f"{host} resolves to {address}, a private, loopback or reserved address; "
                "only public web pages can be added"
            )
    return addresses[0]


def pinned_request(client: httpx.AsyncClient, url: str, address: str) -> httpx.Request:
    """A GET of ``url`` sent to ``address``: the name travels as Host and as TLS server name."""
    target = httpx.URL(url)
    extensions = {}
    if target.scheme == "https":
        extensions["sni_hostname"] = target.raw_host.decode("ascii")  # IDNA form, as in DNS
    return client.build_request(
        "GET",
        target.copy_with(host=address),
        headers={"Host": target.netloc.decode("ascii")},
        extensions=extensions,
    )


async def fetch_page(
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_private: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    resolver: Resolver = system_resolver,
) -> FetchedPage:
    """GET ``url``, following at most five redirects, reading at most ``max_bytes``."""
    try:
        async with (
            asyncio.timeout(timeout_s),
            httpx.AsyncClient(
                follow_redirects=False,
                timeout=timeout_s,
                transport=transport,
                headers={"User-Agent": "Parley/0.1 (+knowledge ingestion)"},
            ) as client,
        ):
            for _ in range(MAX_REDIRECTS + 1):
                address = await check_address(url, allow_private=allow_private, resolver=resolver)
                request = pinned_request(client, url, address)
                response = await client.send(request, stream=True)
                try:
                    if response.is_redirect:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchFailed(f"{url} redirected without a Location")
                        url = urljoin(url, location)
                        continue
                    if response.status_code != 200:
                        raise FetchFailed(f"{url} answered HTTP {response.status_code}")
                    declared = response.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise PayloadTooLarge(
                            f"the page is {int(declared)} bytes; the limit is {max_bytes}"
                        )
                    body = bytearray()
                    async for piece in response.aiter_bytes():
                        body += piece
                        if len(body) > max_bytes:
                            raise PayloadTooLarge(f"the page is larger than {max_bytes} bytes")
                    return FetchedPage(url, bytes(body), response.headers.get("content-type"))
                finally:
                    await response.aclose()
            raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")
    except TimeoutError:
        raise FetchFailed(f"fetching {url} took longer than {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"fetching {url} failed ({type(exc).__name__})") from None
