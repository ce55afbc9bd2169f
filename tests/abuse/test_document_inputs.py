"""Hostile form fields and URLs on the document routes: refused with 400, never a 5xx.

One server per test (starting one is the slow part); each test loops over its inputs."""

from __future__ import annotations

import httpx
import pytest

from tests.abuse.conftest import AbuseReport
from tests.support.tenants import create_tenant

pytestmark = pytest.mark.slow

NUL_TITLES = ["Hand\x00book", "\x00" * 400, "\x00", "ok title\x00"]
BAD_HOSTS = [
    "http://" + "a" * 300 + ".example/",
    "https://" + "a" * 64 + ".example/page",
    "http://" + ".".join(["abcdefghij"] * 30) + "/",  # 329 characters in all
    "http://a..example/",
    "http://\u00e4" + "x" * 300 + ".example/",
]


async def test_nul_in_the_multipart_title_is_a_400(
    http: httpx.AsyncClient, database_url: str, abuse_report: AbuseReport
) -> None:
    owner = await create_tenant(database_url)
    for title in NUL_TITLES:
        response = await http.post(
            "/v1/documents",
            files={"file": ("handbook.txt", b"Staff get 28 days of leave.", "text/plain")},
            data={"title": title},
            headers=owner.secret_headers,
        )
        abuse_report.check(response.status_code, "POST /v1/documents NUL in title")
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "title" in response.json()["detail"]
    listed = (await http.get("/v1/documents", headers=owner.secret_headers)).json()
    assert listed["items"] == []  # nothing half-stored


async def test_a_host_name_dns_cannot_carry_is_a_400(
    http: httpx.AsyncClient, database_url: str, abuse_report: AbuseReport
) -> None:
    owner = await create_tenant(database_url)
    for url in BAD_HOSTS:
        response = await http.post(
            "/v1/documents/url", json={"url": url}, headers=owner.secret_headers
        )
        abuse_report.check(response.status_code, "POST /v1/documents/url bad host name")
        assert response.status_code == 400, (url, response.text)
        assert response.json()["type"].endswith("/url-refused")
        assert "DNS name" in response.json()["detail"]
