"""DNS rebinding: the page is fetched from the address that was checked, never from a second
lookup that a hostile DNS server could answer with a loopback address."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar import Litestar, Request, Response, get

from rag.errors import FetchFailed, FetchRefused
from rag.sources.web import fetch_page
from tests.support.server import serve_app

PUBLIC = "93.184.216.34"  # a global address; nothing answers it from the test machine


@dataclass
class RebindingDns:
    """Answers ``first`` to the first lookup of a name and ``then`` to every later one."""

    first: str
    then: str
    lookups: list[str] = field(default_factory=list)

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return [self.first if len(self.lookups) == 1 else self.then]


@dataclass
class Site:
    url: str
    port: int
    hosts_seen: list[str]


@pytest.fixture
async def internal_site() -> AsyncIterator[Site]:
    """A service on loopback that must never be fetched by a public URL."""
    seen: list[str] = []

    @get("/secret")
    async def secret(request: Request[Any, Any, Any]) -> Response[bytes]:
        seen.append(request.headers.get("host", ""))
        return Response(b"<p>internal admin token: 42</p>", media_type="text/html")

    async with serve_app(Litestar([secret])) as url:
        yield Site(url, int(url.rsplit(":", 1)[1]), seen)


async def test_a_name_that_rebinds_to_loopback_is_fetched_from_the_checked_address(
    internal_site: Site,
) -> None:
    # The system resolves localhost to 127.0.0.1: a fetch that looked the name up again (as
    # httpx does on its own) would reach the internal site. The checked address is public.
    dns = RebindingDns(first=PUBLIC, then="127.0.0.1")
    with pytest.raises(FetchFailed):
        await fetch_page(
            f"http://localhost:{internal_site.port}/secret",
            max_bytes=10_000,
            timeout_s=2,
            resolver=dns,
        )
    assert internal_site.hosts_seen == []
    assert dns.lookups == ["localhost"]  # one lookup, checked, used


async def test_a_rebinding_answer_at_the_check_is_refused(internal_site: Site) -> None:
    dns = RebindingDns(first="127.0.0.1", then=PUBLIC)
    with pytest.raises(FetchRefused, match="loopback"):
        await fetch_page(
            f"http://docs.example:{internal_site.port}/secret",
            max_bytes=10_000,
            timeout_s=2,
            resolver=dns,
        )
    assert internal_site.hosts_seen == []


async def test_the_checked_address_is_used_with_the_name_as_host(internal_site: Site) -> None:
    dns = RebindingDns(first="127.0.0.1", then="127.0.0.1")
    page = await fetch_page(
        f"http://docs.example:{internal_site.port}/secret",
        max_bytes=10_000,
        timeout_s=5,
        allow_private=True,  # an intranet install: loopback allowed, still pinned
        resolver=dns,
    )
    assert b"internal admin token" in page.content
    assert page.url == f"http://docs.example:{internal_site.port}/secret"
    assert internal_site.hosts_seen == [f"docs.example:{internal_site.port}"]


async def test_https_keeps_the_name_for_sni_and_host() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, html="<p>Parcels ship within two days.</p>")

    page = await fetch_page(
        "https://Bücher.example/faq",
        max_bytes=10_000,
        timeout_s=5,
        transport=httpx.MockTransport(handler),
        resolver=RebindingDns(first=PUBLIC, then="127.0.0.1"),
    )
    assert page.content.startswith(b"<p>Parcels")
    (request,) = sent
    assert request.url.host == PUBLIC  # connected to the checked address
    assert request.headers["host"] == "xn--bcher-kva.example"
    assert request.extensions["sni_hostname"] == "xn--bcher-kva.example"


async def test_every_redirect_is_checked_and_pinned_again() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == "/old":
            return httpx.Response(301, headers={"location": "https://cdn.example/new"})
        return httpx.Response(200, html="<p>moved</p>")

    answers = {"www.example": PUBLIC, "cdn.example": "127.0.0.1"}

    async def dns(host: str, port: int) -> list[str]:
        return [answers[host]]

    with pytest.raises(FetchRefused, match="cdn.example resolves to 127.0.0.1"):
        await fetch_page(
            "https://www.example/old",
            max_bytes=10_000,
            timeout_s=5,
            transport=httpx.MockTransport(handler),
            resolver=dns,
        )
    assert [r.url.path for r in sent] == ["/old"]
