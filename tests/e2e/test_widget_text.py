"""The widget's text chat on the demo page, in real Chromium against the whole server."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import LaunchBrowser, PageWatch, ServeParley
from tests.e2e.widget_page import axe_violations, knowledge_ready, open_panel
from voice_server.web.demo import DEMO_TITLE


async def test_text_chat_streams_a_cited_answer_that_survives_a_reload(
    launch_browser: LaunchBrowser,
    serve_parley: ServeParley,
    watch: PageWatch,
    database_url: str,
    artifacts_dir: Path,
) -> None:
    server = await serve_parley(demo=True)
    await knowledge_ready(database_url, DEMO_TITLE)
    browser = await launch_browser()
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await watch.attach(page)
    await page.goto(server.url + "/")
    widget = page.locator("parley-chat")
    await widget.locator(".launcher").wait_for(state="visible")
    await page.screenshot(path=artifacts_dir / "closed.png")

    panel = await open_panel(page)
    # The greeting from the bot's public config opens the conversation.
    await panel.get_by_text("I'm the Parley demo").wait_for()
    box = panel.get_by_role("textbox", name="Your message")
    await box.fill("What database does Parley use?")
    await box.press("Enter")
    answer = panel.locator(".msg.assistant").filter(has=page.locator(".sources"))
    await answer.wait_for(timeout=30_000)
    assert "PostgreSQL" in await answer.locator(".bubble").inner_text()
    assert DEMO_TITLE in await answer.locator(".sources").inner_text()
    await page.screenshot(path=artifacts_dir / "open-text.png")

    violations = await axe_violations(page)
    assert violations == [], violations

    await page.reload()
    panel = await open_panel(page)
    kept = panel.locator(".msg.assistant").filter(has=page.locator(".sources"))
    await kept.wait_for()
    assert "PostgreSQL" in await kept.locator(".bubble").inner_text()
    assert "What database does Parley use?" in await panel.locator(".msg.user").inner_text()
    watch.assert_clean()


async def test_keyboard_focus_stays_in_the_panel_and_narrow_screens_get_it_full_screen(
    launch_browser: LaunchBrowser,
    serve_parley: ServeParley,
    watch: PageWatch,
    artifacts_dir: Path,
) -> None:
    server = await serve_parley(demo=True)
    browser = await launch_browser()
    page = await browser.new_page(viewport={"width": 390, "height": 760})
    await watch.attach(page)
    await page.goto(server.url + "/")
    widget = page.locator("parley-chat")
    launcher = widget.locator(".launcher")
    await launcher.focus()
    await page.keyboard.press("Enter")
    panel = widget.get_by_role("dialog")
    await panel.wait_for(state="visible")
    box = await panel.bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 760}
    await page.screenshot(path=artifacts_dir / "open-narrow.png")

    inside = (
        "() => document.querySelector('parley-chat').shadowRoot.activeElement"
        "?.closest('.panel') != null"
    )
    for _ in range(12):  # more Tabs than there are controls: focus wraps, never leaves
        await page.keyboard.press("Tab")
        assert await page.evaluate(inside)
    await page.keyboard.press("Shift+Tab")
    assert await page.evaluate(inside)
    await page.keyboard.press("Escape")
    await panel.wait_for(state="hidden")
    focused = "() => document.querySelector('parley-chat').shadowRoot.activeElement?.className"
    assert await page.evaluate(focused) == "launcher"
    watch.assert_clean()
