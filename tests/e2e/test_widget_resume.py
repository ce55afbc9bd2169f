"""A network blip mid-call: the widget reconnects and continues the same conversation (the
server keeps one conversation across both sessions and does not greet again)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from tests.e2e.conftest import LaunchBrowser, PageWatch, ServeParley
from tests.e2e.speech import record
from tests.e2e.widget_page import open_panel, wait_event
from voice_server.web.demo import DEMO_BOT

pytestmark = pytest.mark.timeout(300)

# Keeps every socket the page opens and every JSON message it sends, so the test can cut the
# connection the way a network blip would and read what the widget sent when it came back.
SOCKET_TAP = """
(() => {
  const Native = window.WebSocket;
  window.__parleySockets = [];
  window.__parleySent = [];
  window.WebSocket = class extends Native {
    constructor(...args) { super(...args); window.__parleySockets.push(this); }
    send(data) {
      if (typeof data === "string") window.__parleySent.push(JSON.parse(data));
      return super.send(data);
    }
  };
})();
"""


async def test_a_network_blip_resumes_the_same_conversation_without_a_second_greeting(
    launch_browser: LaunchBrowser,
    serve_parley: ServeParley,
    watch: PageWatch,
    database_url: str,
    tmp_path: Path,
) -> None:
    server = await serve_parley(demo=True)
    recording = await record(tmp_path / "mic.wav", [], tail_s=60.0)
    browser = await launch_browser(recording=recording)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.add_init_script(SOCKET_TAP)
    await watch.attach(page)
    await page.goto(server.url + "/")
    panel = await open_panel(page)
    await panel.get_by_role("button", name="Start a voice call").click()
    await wait_event(page, "e.type === 'call-start'")
    # The greeting's caption: the first session is live and has greeted.
    await wait_event(page, "e.type === 'transcript' && e.detail.role === 'assistant'")

    await page.evaluate("() => window.__parleySockets[0].close(4000, 'blip')")
    await page.wait_for_function(
        "() => window.__parleySent.filter((m) => m.type === 'session.start').length === 2",
        timeout=30_000,
    )
    starts = await page.evaluate(
        "() => window.__parleySent.filter((m) => m.type === 'session.start')"
    )
    assert "conversation_id" not in starts[0]

    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(200):
            sessions = await conn.fetch(
                "SELECT conversation_id FROM voice_sessions ORDER BY started_at"
            )
            if len(sessions) == 2:
                break
            await page.wait_for_timeout(100)
        assert len(sessions) == 2
        assert sessions[0]["conversation_id"] == sessions[1]["conversation_id"]
        assert starts[1]["conversation_id"] == str(sessions[0]["conversation_id"])
        assert starts[1]["resume_token"]
        # Give a second greeting time to be said (it would be stored as it starts playing).
        await page.wait_for_timeout(3000)
        await panel.get_by_role("button", name="Hang up").click()
        await wait_event(page, "e.type === 'call-end'", timeout_s=15)
        for _ in range(100):
            open_sessions = await conn.fetchval(
                "SELECT count(*) FROM voice_sessions WHERE ended_at IS NULL"
            )
            if open_sessions == 0:
                break
            await page.wait_for_timeout(100)
        greetings = await conn.fetchval(
            "SELECT count(*) FROM messages WHERE conversation_id = $1 AND role = 'assistant'",
            sessions[0]["conversation_id"],
        )
    finally:
        await conn.close()
    assert open_sessions == 0
    assert greetings == 1
    assert DEMO_BOT["greeting"]
    watch.assert_clean()
