"""Helpers for driving the widget in a page: its parts by role, waiting for the demo's knowledge,
axe-core, and pages with a strict CSP served for the widget at the server's own origin."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import asyncpg
import pytest

AXE = Path(__file__).parents[2] / "widget" / "node_modules" / "axe-core" / "axe.min.js"


async def knowledge_ready(database_url: str, title: str, timeout_s: float = 60.0) -> None:
    """Wait until the ingestion worker has made the document searchable."""
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(int(timeout_s * 10)):
            status = await conn.fetchval(
                "SELECT status FROM documents WHERE title = $1 ORDER BY created_at DESC LIMIT 1",
                title,
            )
            if status == "ready":
                return
            assert status != "failed", "the demo knowledge failed to ingest"
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    raise AssertionError(f"{title!r} was not ingested within {timeout_s}s")


async def open_panel(page: Any) -> Any:
    widget = page.locator("parley-chat")
    await widget.locator(".launcher").click()
    panel = widget.get_by_role("dialog")
    await panel.wait_for(state="visible")
    return panel


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core (npm, widget/node_modules) run on the widget: WCAG 2.x A and AA rules.
    Evaluated through DevTools, so the page's CSP does not apply to it."""
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail("axe-core is missing: .ci/run installs widget/node_modules (npm ci)")
        pytest.skip("axe-core is not installed (cd widget && npm ci)")
    await page.evaluate(AXE.read_text() + "\n;undefined")
    result = await page.evaluate(
        """async () => {
            const r = await axe.run({ include: [["parley-chat"]] }, {
                runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
            });
            return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ")) }));
        }"""
    )
    return list(result)


async def events(page: Any) -> list[dict[str, Any]]:
    return list(await page.evaluate("window.__parleyProbe.events"))


async def probe(page: Any) -> dict[str, Any]:
    found = await page.evaluate("({audio: __parleyProbe.audio, taps: __parleyProbe.taps})")
    return dict(found)


async def serve_host_page(page: Any, server_url: str, bot_id: str, key: str) -> str:
    """A customer's page at the server's own origin, answered by Playwright's router: the embed
    tag (versioned URL, SRI, nonce) under the same strict CSP as the demo page."""
    from voice_server.web.bundle import load_bundle
    from voice_server.web.page import content_security_policy, embed_tag

    nonce = "e2e-nonce"
    tag = embed_tag(server_url, bot_id, key, load_bundle(None), nonce=nonce)
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
        f'<link rel="icon" href="data:,"></head><body><main><h1>Shop</h1></main>{tag}</body></html>'
    )
    url = f"{server_url}/e2e/host"

    async def handler(route: Any) -> None:
        await route.fulfill(
            status=200,
            headers={
                "Content-Type": "text/html; charset=utf-8",
                "Content-Security-Policy": content_security_policy(nonce),
            },
            body=body,
        )

    await page.route(url, handler)
    return url


async def silence_greeting(database_url: str) -> None:
    """Voice tests time the caller's words; a spoken greeting would overlap them."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE bots SET greeting = ''")
    finally:
        await conn.close()


async def wait_event(page: Any, condition: str, timeout_s: float = 60.0) -> None:
    """Wait until an event recorded by probe.js matches ``condition`` (a JS expression of e)."""
    await page.wait_for_function(
        # A function, not an expression: Playwright evaluates expressions with eval, which the
        # page's strict CSP refuses.
        f"() => __parleyProbe.events.some((e) => {condition})",
        timeout=timeout_s * 1000,
    )
