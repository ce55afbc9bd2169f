"""What a visitor sees when the widget cannot serve them: each refusal has its own message.

The widget sits on a customer's page at the server's own origin (answered by Playwright's
router) under a strict CSP; the failed request itself is the one console error allowed."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tests.e2e.conftest import LaunchBrowser, PageWatch, ServeParley
from tests.e2e.widget_page import open_panel, serve_host_page
from tests.support.tenants import create_tenant

SPENT_PLAN = """
[plans.spent]
name = "Spent"
bots = "unlimited"
documents = "unlimited"
storage_bytes = "unlimited"
messages_per_month = 0
voice_minutes_per_month = 0
concurrent_voice_sessions = 0
"""


async def _ask(page: object, panel: object, text: str) -> None:
    box = panel.get_by_role("textbox", name="Your message")  # type: ignore[attr-defined]
    await box.fill(text)
    await box.press("Enter")


async def test_refused_origin(
    launch_browser: LaunchBrowser, serve_parley: ServeParley, watch: PageWatch, database_url: str
) -> None:
    server = await serve_parley()
    tenant = await create_tenant(database_url, origin="https://shop.example")
    browser = await launch_browser()
    page = await browser.new_page()
    watch.allowed.append("status of 403")
    await watch.attach(page)
    await page.goto(
        await serve_host_page(page, server.url, str(tenant.bot_id), tenant.publishable_key)
    )
    panel = await open_panel(page)
    await _ask(page, panel, "Hello?")
    await (
        panel.get_by_role("alert")
        .get_by_text("This chat is not enabled on this website.")
        .wait_for(timeout=15_000)
    )
    watch.assert_clean()


async def test_revoked_key(
    launch_browser: LaunchBrowser, serve_parley: ServeParley, watch: PageWatch, database_url: str
) -> None:
    server = await serve_parley()
    tenant = await create_tenant(database_url, origin=server.url)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE kind = 'publishable'")
    finally:
        await conn.close()
    browser = await launch_browser()
    page = await browser.new_page()
    watch.allowed.append("status of 401")
    await watch.attach(page)
    await page.goto(
        await serve_host_page(page, server.url, str(tenant.bot_id), tenant.publishable_key)
    )
    panel = await open_panel(page)
    await (
        panel.get_by_role("alert")
        .get_by_text("its key is invalid or was revoked")
        .wait_for(timeout=15_000)
    )
    # Nothing to send with a dead key: the composer and the call button are disabled.
    assert await panel.get_by_role("textbox", name="Your message").is_disabled()
    assert await panel.get_by_role("button", name="Start a voice call").is_disabled()
    watch.assert_clean()


async def test_quota_exhausted(
    launch_browser: LaunchBrowser,
    serve_parley: ServeParley,
    watch: PageWatch,
    database_url: str,
    tmp_path: Path,
) -> None:
    plans = tmp_path / "plans.toml"
    plans.write_text(SPENT_PLAN)
    server = await serve_parley(billing_plans_file=plans, billing_default_plan="spent")
    tenant = await create_tenant(database_url, origin=server.url, plan="spent")
    browser = await launch_browser()
    page = await browser.new_page()
    # A website visitor learns nothing of the owner's plan: a plain 503 "unavailable".
    watch.allowed.append("status of 503")
    await watch.attach(page)
    await page.goto(
        await serve_host_page(page, server.url, str(tenant.bot_id), tenant.publishable_key)
    )
    panel = await open_panel(page)
    await _ask(page, panel, "Hello?")
    await panel.get_by_role("alert").get_by_text("unavailable right now").wait_for(timeout=15_000)
    # The question is kept, so nothing the visitor typed is lost.
    assert "Hello?" in await panel.locator(".msg.user").inner_text()
    watch.assert_clean()
