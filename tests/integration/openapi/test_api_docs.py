"""The API reference UI at /schema works offline: every asset it loads is served by Parley."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from voice_server.openapi import ASSETS_DIR, SCALAR_VERSION

URL_ATTRIBUTE = re.compile(r"""(?:src|href|data-url)=["']([^"']*)["']""")


async def test_schema_page_loads_only_parley_served_assets(http: httpx.AsyncClient) -> None:
    page = await http.get("/schema")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    urls = URL_ATTRIBUTE.findall(page.text)
    assert urls, page.text
    external = [u for u in urls if re.match(r"^(https?:)?//", u)]
    assert external == []
    assert "cdn." not in page.text
    assert '"withDefaultFonts":false' in page.text  # Scalar would fetch fonts.scalar.com
    for url in urls:
        asset = await http.get(url)
        assert asset.status_code == 200, url
        if url.endswith(".js"):
            assert asset.headers["content-type"].startswith("text/javascript")
            assert "immutable" in asset.headers["cache-control"]
            assert asset.content == (ASSETS_DIR / Path(url).name).read_bytes()
    assert f"scalar-api-reference-{SCALAR_VERSION}.js" in page.text


async def test_unknown_assets_and_the_cdn_swagger_page_are_not_served(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.get("/schema-assets/../../pyproject.toml")).status_code == 404
    assert (await http.get("/schema-assets/other.js")).status_code == 404
    assert (await http.get("/schema/swagger")).status_code == 404
