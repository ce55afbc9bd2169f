"""Voice calls through the widget: the fake mic speaks eSpeak recordings into the demo bot, which
runs on the offline engines (pocketsphinx, eSpeak NG, the offline answerer)."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from tests.e2e.conftest import (
    LaunchBrowser,
    PageWatch,
    ServeParley,
    audio_levels,
    silence_start_after,
)
from tests.e2e.speech import Utterance, record
from tests.e2e.widget_page import (
    events,
    knowledge_ready,
    open_panel,
    probe,
    silence_greeting,
    wait_event,
)
from tests.fakes.deepgram import deepgram_server
from tests.fakes.groq_audio import groq_audio_server
from voice_server.web.demo import DEMO_TITLE

AUDIBLE = 0.01  # RMS, about -40 dBFS

# A call runs in real time (the recording is up to 40 s) on offline engines: more than the
# suite's default 120 s when the cores are shared.
pytestmark = pytest.mark.timeout(300)


async def _demo_call(
    serve_parley: ServeParley,
    launch_browser: LaunchBrowser,
    watch: PageWatch,
    database_url: str,
    utterances: list[Utterance],
    tmp_path: Path,
):  # type: ignore[no-untyped-def]
    server = await serve_parley(demo=True)
    await knowledge_ready(database_url, DEMO_TITLE)
    await silence_greeting(database_url)
    recording = await record(tmp_path / "mic.wav", utterances, tail_s=30.0)
    browser = await launch_browser(recording=recording)
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await watch.attach(page)
    await page.goto(server.url + "/")
    panel = await open_panel(page)
    await panel.get_by_role("button", name="Start a voice call").click()
    return page, panel


async def test_voice_call_shows_captions_plays_the_reply_and_is_stored(
    launch_browser: LaunchBrowser,
    serve_parley: ServeParley,
    watch: PageWatch,
    database_url: str,
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    page, panel = await _demo_call(
        serve_parley,
        launch_browser,
        watch,
        database_url,
        [Utterance("What database does Parley use?", at_s=1.0)],
        tmp_path,
    )
    await wait_event(page, "e.type === 'call-start'")
    # The meter moves with the caller's voice (a dead mic would stay at 0).
    await page.wait_for_function(
        """() => Number(document.querySelector('parley-chat').shadowRoot
              .querySelector('[role=progressbar]').getAttribute('aria-valuenow')) > 5""",
        timeout=15_000,
    )
    await wait_event(page, "e.type === 'transcript' && e.detail.role === 'user' && e.detail.final")
    await wait_event(page, "e.type === 'transcript' && e.detail.role === 'assistant'")
    # The reply is heard: energy on the page's output, not just bytes received.
    await page.wait_for_function(
        f"() => __parleyProbe.audio.some(([t, rms]) => rms > {AUDIBLE})", timeout=30_000
    )
    captions = await panel.get_by_role("log", name="Live captions").inner_text()
    assert captions.strip()
    await page.screenshot(path=artifacts_dir / "in-call.png")

    await panel.get_by_role("button", name="Hang up").click()
    await wait_event(page, "e.type === 'call-end'", timeout_s=15)
    user_final = [
        e
        for e in await events(page)
        if e["type"] == "transcript" and e["detail"]["role"] == "user" and e["detail"]["final"]
    ]
    assert user_final[0]["detail"]["text"]

    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(100):
            session = await conn.fetchrow(
                "SELECT id, conversation_id, ended_at FROM voice_sessions ORDER BY started_at DESC"
            )
            if session is not None and session["ended_at"] is not None:
                break
            await page.wait_for_timeout(100)
        assert session is not None
        assert session["ended_at"] is not None
        turn = await conn.fetchrow(
            "SELECT stt_final_ms, first_audio_ms, total_ms FROM turns WHERE voice_session_id = $1"
            " ORDER BY ordinal LIMIT 1",
            session["id"],
        )
        roles = await conn.fetch(
            "SELECT role FROM messages WHERE conversation_id = $1 ORDER BY created_at",
            session["conversation_id"],
        )
    finally:
        await conn.close()
    assert turn is not None
    assert turn["first_audio_ms"] is not None
    assert turn["total_ms"] is not None
    assert [r["role"] for r in roles][:2] == ["user", "assistant"]
    watch.assert_clean()


async def test_barge_in_stops_playback_at_once(
    launch_browser: LaunchBrowser,
    serve_parley: ServeParley,
    watch: PageWatch,
    database_url: str,
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    # Speech vendor fakes at zero latency, not the offline engines: the second question must
    # land while the bot speaks, and an offline transcription's time on shared cores is
    # unknown. The offline answerer reads the demo's long "Voice calls" passage back (a tone
    # of about 0.06 s a character from the Deepgram fake).
    async with (
        groq_audio_server(text="can I interrupt the bot during a voice call") as groq,
        deepgram_server(audio="tone") as deepgram,
    ):
        server = await serve_parley(
            demo=True,
            rag_embedder="offline",  # no model load on shared cores during the call
            rag_reranker="off",
            groq_api_key=groq.api_key,
            groq_base_url=groq.base_url,
            deepgram_api_key=deepgram.api_key,
            deepgram_base_url=deepgram.base_url,
        )
        await knowledge_ready(database_url, DEMO_TITLE)
        await silence_greeting(database_url)
        recording = await record(
            tmp_path / "mic.wav",
            [
                Utterance("Can I interrupt the bot during a voice call?", at_s=1.0),
                Utterance("Wait, how much does self hosting cost?", at_s=12.0),
            ],
            tail_s=10.0,
        )
        browser = await launch_browser(recording=recording)
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await watch.attach(page)
        await page.goto(server.url + "/")
        panel = await open_panel(page)
        await panel.get_by_role("button", name="Start a voice call").click()
        await wait_event(page, "e.type === 'interrupted'", timeout_s=60)
        await page.wait_for_timeout(1000)
        found = await probe(page)
        await panel.get_by_role("button", name="Hang up").click()
        await wait_event(page, "e.type === 'call-end'", timeout_s=15)
    interrupted_at = next(e["t"] for e in await events(page) if e["type"] == "interrupted")
    levels = audio_levels(found)
    playing_before = [rms for t, rms in levels if interrupted_at - 500 <= t < interrupted_at]
    audible = [t for t, rms in levels if rms > AUDIBLE]
    timeline = [(round(e["t"]), e["type"]) for e in await events(page)]
    assert max(playing_before) > AUDIBLE, (
        "the bot was not audibly speaking when interrupted: "
        f"audible {audible[:1]}..{audible[-1:]}, events {timeline}"
    )
    stopped_at = silence_start_after(levels, interrupted_at)
    assert stopped_at is not None, "playback went on after `interrupted`"
    stop_ms = stopped_at - interrupted_at
    (artifacts_dir / "barge_in.json").write_text(
        json.dumps(
            {
                "stop_after_interrupted_ms": round(stop_ms, 1),
                "measured_at": "the <audio> element's MediaStream, 5 ms RMS windows",
            }
        )
    )
    assert stop_ms < 300, f"playback stopped {stop_ms:.0f} ms after `interrupted`"
    watch.assert_clean()


async def test_denied_microphone_says_so(
    launch_browser: LaunchBrowser, serve_parley: ServeParley, watch: PageWatch
) -> None:
    server = await serve_parley(demo=True)
    browser = await launch_browser(mic="deny")
    page = await browser.new_page()
    await watch.attach(page)
    await page.goto(server.url + "/")
    panel = await open_panel(page)
    await panel.get_by_role("button", name="Start a voice call").click()
    alert = panel.get_by_role("alert")
    await alert.get_by_text("Microphone access was blocked").wait_for(timeout=15_000)
    # Typing still works: the call button is back and the text box is enabled.
    await panel.get_by_role("button", name="Start a voice call").wait_for()
    assert await panel.get_by_role("textbox", name="Your message").is_enabled()
    watch.assert_clean()
