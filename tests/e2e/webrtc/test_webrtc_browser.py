"""A real Chromium calls Parley over WebRTC: its fake microphone speaks an eSpeak recording into
an Opus track, the `parley` data channel carries the events, and the reply track plays in the
page. The page is a few lines served only to this test (through Playwright's routing, on the
server's own origin) until the widget has a WebRTC path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import LaunchBrowser, PageWatch, ServeParley, first_energy_after
from tests.e2e.speech import Utterance, record
from tests.integration.voice.harness import eventually
from tests.support.tenants import create_tenant

PAGE = """<!doctype html><meta charset="utf-8"><title>WebRTC call</title>
<script>
window.calls = { events: [], state: [] };
window.call = async (botId, secret) => {
  const pc = new RTCPeerConnection();
  window.pc = pc;
  const mic = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  mic.getTracks().forEach((track) => pc.addTrack(track, mic));
  const channel = pc.createDataChannel("parley");
  window.channel = channel;
  channel.onmessage = (e) => {
    window.calls.events.push({ t: performance.now(), ...JSON.parse(e.data) });
  };
  channel.onopen = () => channel.send(JSON.stringify({ type: "session.start", bot_id: botId }));
  pc.onconnectionstatechange = () => window.calls.state.push(pc.connectionState);
  pc.ontrack = (e) => {
    const audio = new Audio();
    audio.srcObject = e.streams[0] || new MediaStream([e.track]);
    audio.play();
  };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === "complete") return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && done();
  });
  const response = await fetch("/v1/voice/webrtc/offer", {
    method: "POST",
    headers: { "Authorization": `Bearer ${secret}`, "Content-Type": "application/json" },
    body: JSON.stringify({ bot_id: botId, type: "offer", sdp: pc.localDescription.sdp }),
  });
  const answer = await response.json();
  if (response.status !== 201) throw new Error(JSON.stringify(answer));
  await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
  return answer.peer_id;
};
</script>"""


async def events_of(page: Any, kind: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = await page.evaluate("window.calls.events")
    return [e for e in events if e["type"] == kind]


async def wait_event(page: Any, kind: str, timeout_s: float = 45) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def arrived() -> bool:
        found[:] = await events_of(page, kind)
        return bool(found)

    await eventually(arrived, timeout_s=timeout_s)
    return found[0]


async def test_chromium_speaks_and_hears_a_reply_over_webrtc(
    launch_browser: LaunchBrowser,
    serve_parley: ServeParley,
    watch: PageWatch,
    database_url: str,
    tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    tenant = await create_tenant(database_url)
    server = await serve_parley()
    recording = await record(
        tmp_path / "mic.wav", [Utterance("what are your opening hours", at_s=1.0)], tail_s=12.0
    )
    browser = await launch_browser(recording=recording)
    page = await browser.new_page()
    await watch.attach(page)
    test_page = f"{server.url}/__webrtc_test__"
    await page.route(
        test_page, lambda route: route.fulfill(status=200, content_type="text/html", body=PAGE)
    )
    await page.goto(test_page)
    peer_id = await page.evaluate(
        "([bot, secret]) => window.call(bot, secret)", [str(tenant.bot_id), tenant.secret_key]
    )
    assert isinstance(peer_id, str)
    try:
        started = await wait_event(page, "session.started")
        assert started["output_sample_rate"] == 48_000
        final = await wait_event(page, "transcript.final")
        assert "hours" in final["text"].split()
        audio_start = await wait_event(page, "audio.start")
        await wait_event(page, "audio.end")
        probe = await page.evaluate("window.__parleyProbe")
        assert probe["taps"] == 1
        levels = [(float(t), float(rms)) for t, rms in probe["audio"]]
        assert first_energy_after(levels, audio_start["t"]) is not None  # the reply was heard
        await page.evaluate("window.channel.send(JSON.stringify({type: 'session.end'}))")
        ended = await wait_event(page, "session.ended")
        assert ended["reason"] == "client_ended"
        assert await events_of(page, "error") == []
    except BaseException:
        await page.screenshot(path=str(artifacts_dir / "failure.png"))
        (artifacts_dir / "events.json").write_text(
            json.dumps(await page.evaluate("window.calls"), indent=1)
        )
        raise

    async def all_closed() -> bool:
        return await page.evaluate("window.pc.connectionState") in ("closed", "failed")

    await eventually(all_closed, timeout_s=15)  # the server closed the call after storing it
    watch.assert_clean()
    await page.close()
