"""The console in a real browser, as an owner uses it: sign up, create a bot, upload a PDF and
watch it become ready, try the bot, read the conversation with its citations, create and revoke
a key, copy the embed snippet; a voice conversation with its waterfall bars and its recording.
Each page is checked with axe-core (no A/AA violation), for CSP violations, and photographed."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.e2e.console.conftest import CSP_PROBE, Watch, axe_violations
from tests.integration.dashboard import seed
from tests.unit.rag.documents import make_pdf
from voice_server.voice.recording import CallRecorder

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"


async def check_page(page: Any, name: str, axe: str, artifacts: Path, watch: Watch) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    assert await axe_violations(page, axe) == [], name
    assert await watch.csp_violations(page) == [], name


def tone(seconds: float, rate: int, freq: float = 440.0) -> bytes:
    count = int(seconds * rate)
    return b"".join(
        int(8000 * math.sin(2 * math.pi * freq * i / rate)).to_bytes(2, "little", signed=True)
        for i in range(count)
    )


async def test_owner_journey(
    browser: Any,
    console_server: str,
    axe_source: str,
    artifacts: Path,
    database_url: str,
    settings: Any,
    tmp_path: Path,
) -> None:
    context = await browser.new_context(
        base_url=console_server, viewport={"width": 1280, "height": 900}
    )
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_server)
    await context.add_init_script(CSP_PROBE)
    page = await context.new_page()
    watch = Watch()
    watch.attach(page)

    # Sign up.
    await page.goto("/console/sign-up")
    await check_page(page, "sign-up", axe_source, artifacts, watch)
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    await page.get_by_label("Organisation name").fill("Bakery Ltd")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create organisation").click()
    await page.wait_for_url("**/console/bots")
    await check_page(page, "bots-empty", axe_source, artifacts, watch)

    # Create a bot that may be embedded on this very origin (so "Try it" can show the widget).
    await page.get_by_role("link", name="New bot").click()
    await check_page(page, "bot-new", axe_source, artifacts, watch)
    await page.get_by_label("Name", exact=True).fill("Bakery helper")
    await page.get_by_label("Greeting").fill("Hello! Ask me about our bread.")
    await page.get_by_label("How long a pause ends the caller's turn").select_option("1000")
    await page.get_by_label("Websites allowed to embed it").fill(console_server)
    await page.get_by_role("button", name="Create bot").click()
    await page.wait_for_url("**/console/bots/*")
    bot_url = page.url
    assert await page.get_by_text("1000 ms").count() == 1

    # Upload a PDF and watch its status turn to ready without reloading (HTMX polling).
    pdf = tmp_path / "opening-hours.pdf"
    pdf.write_bytes(
        make_pdf([["Opening hours", "The bakery opens at seven in the morning every day."]])
    )
    await page.goto("/console/knowledge")
    await page.get_by_label("Files (PDF, Word, HTML, text)").set_input_files([str(pdf)])
    await page.get_by_role("button", name="Upload").click()
    await page.wait_for_url("**/console/knowledge*")
    status = page.locator("[data-status]").first
    await status.wait_for()
    # The rows are swapped in by HTMX every 2 s while a document is queued or processing.
    await page.locator("[data-status=ready]").first.wait_for(timeout=60_000)
    assert "chunks" in await page.locator("tbody tr").first.inner_text()
    await check_page(page, "knowledge", axe_source, artifacts, watch)

    # Try it (text), then read the stored conversation with its citation.
    await page.goto(bot_url)
    await page.get_by_label("Ask a question").fill("When does the bakery open?")
    await page.get_by_role("button", name="Ask").click()
    result = page.locator("#try-result")
    await result.get_by_text("Open this conversation").wait_for(timeout=30_000)
    assert (
        "opening-hours" in (await result.inner_text()).lower()
        or await result.locator("ol.citations li").count() >= 1
    )
    await check_page(page, "bot-detail", axe_source, artifacts, watch)
    await result.get_by_role("link", name="Open this conversation").click()
    await page.wait_for_url("**/console/conversations/*")
    assert await page.locator("[data-citation]").count() >= 1
    await check_page(page, "conversation-text", axe_source, artifacts, watch)

    # Keys: a secret key is shown once; revoking removes it from the list.
    await page.goto("/console/keys")
    await page.get_by_label("Name", exact=True).fill("server")
    await page.get_by_role("button", name="Create key").click()
    secret = (await page.locator("#new-key").inner_text()).strip()
    assert secret.startswith("psk_")
    prefix = secret[: len("psk_") + 8]
    await page.goto("/console/keys")
    assert secret not in await page.content()
    row = page.locator("tr[data-key]", has_text="server")
    await row.get_by_role("button", name="Revoke").click()
    await page.wait_for_url("**/console/keys")
    assert await page.locator("tr[data-key]", has_text="server").count() == 0, prefix

    # The embed snippet, copied to the clipboard.
    await page.get_by_label("Bot", exact=True).first.select_option(label="Bakery helper")
    await page.get_by_role("button", name="Show embed code").click()
    snippet = (await page.locator("#snippet").inner_text()).strip()
    assert snippet.startswith("<script")
    assert "/widget/parley.js" in snippet
    await page.get_by_role("button", name="Copy embed code").click()
    await page.get_by_text("Copied to the clipboard.").wait_for()
    assert await page.evaluate("navigator.clipboard.readText()") == snippet
    await check_page(page, "keys", axe_source, artifacts, watch)

    # A voice conversation (written as the voice session's store writes it) with a recording.
    conn = await asyncpg.connect(database_url)
    try:
        tenant_id, bot_id = await conn.fetchrow(
            "SELECT b.tenant_id, b.id FROM bots b JOIN users u ON u.tenant_id = b.tenant_id"
            " WHERE u.email = $1",
            email,
        )
        voice = await seed.conversation(
            conn,
            tenant_id,
            bot_id,
            [("When do you open?", "At seven.")],
            channel="voice",
            started_at=seed.T0.replace(year=2026),
            waterfall_ms=120.0,
        )
        recording_id = uuid.uuid4()
        key = f"{tenant_id}/{recording_id}.ogg"
        recorder = CallRecorder(
            settings.data_dir / "recordings" / key, caller_rate=16000, bot_rate=24000
        )
        recorder.feed_caller(tone(2.0, 16000), 0.0)
        recorder.feed_bot(tone(1.0, 24000, 660.0), 2.5)
        made = await recorder.close()
        await conn.execute(
            """INSERT INTO call_recordings (id, tenant_id, conversation_id, storage_key, layout,
                   duration_s, size_bytes) VALUES ($1, $2, $3, $4, 'stereo', $5, $6)""",
            recording_id,
            tenant_id,
            voice.conversation_id,
            key,
            made.duration_s,
            made.size_bytes,
        )
    finally:
        await conn.close()
    await page.goto(f"/console/conversations/{voice.conversation_id}")
    bars = page.locator("[data-waterfall] rect")
    assert await bars.count() == 5  # STT, first token, first clause, TTS first byte, first audio
    duration = await page.evaluate(
        """() => new Promise((resolve) => {
             const audio = document.querySelector('audio');
             const done = () => resolve(audio.duration);
             if (audio.readyState >= 1 && isFinite(audio.duration)) return done();
             audio.addEventListener('durationchange', () => isFinite(audio.duration) && done());
             audio.load();
           })"""
    )
    assert duration == pytest.approx(3.5, abs=0.1)
    await check_page(page, "conversation-voice", axe_source, artifacts, watch)

    for path, name in [
        ("/console/conversations", "conversations"),
        ("/console/analytics", "analytics"),
        ("/console/billing", "billing"),
        ("/console/team", "team"),
        ("/console/bots", "bots"),
    ]:
        await page.goto(path)
        await check_page(page, name, axe_source, artifacts, watch)

    # Phone-sized: nothing overflows the viewport sideways.
    await page.set_viewport_size({"width": 375, "height": 800})
    for path in (
        "/console/bots",
        "/console/analytics",
        f"/console/conversations/{voice.conversation_id}",
    ):
        await page.goto(path)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, path
    await page.screenshot(path=str(artifacts / "phone-conversation.png"), full_page=True)

    # Keyboard: the skip link comes first and moves focus to the content.
    await page.goto("/console/bots")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"

    watch.assert_clean()
    await context.close()
