"""Fetch one web page with limits: size, time, redirects, and no private-network addresses.

Addresses are checked after DNS resolution and again at every redirect, so that a public name
pointing at 127.0.0.1 or a cloud metadata address is refused as surely as the literal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from rag.errors import FetchFailed, FetchRefused
from voice_server.errors import PayloadTooLarge

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


async def check_address(url: str, *, allow_private: bool) -> None:
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
    if allow_private:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise FetchRefused(f"the host {host!r} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise FetchRefused(
                f"{host} resolves to {address}, a private, loopback or reserved address; "
                "only public web pages can be added"
            )


async def fetch_page(
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_private: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
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
                await check_address(url, allow_private=allow_private)
                async with client.stream("GET", url) as response:
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
                    return FetchedPage(
                        str(response.url), bytes(body), response.headers.get("content-type")
                    )
            raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")
    except TimeoutError:
        raise FetchFailed(f"fetching {url} took longer than {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"fetching {url} failed ({type(exc).__name__})") from None
