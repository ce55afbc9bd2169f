"""The browser fixtures themselves: the fake mic speaks, the watchers catch what they must."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import LaunchBrowser, PageWatch
from tests.e2e.speech import Utterance, record

# Pages are answered by Playwright's router, not a server: these tests need no database.
PAGE_URL = "http://localhost:9/fixture"

MIC_PAGE = """<!doctype html><title>mic</title><script nonce="n1">
window.level = async () => {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  ctx.createMediaStreamSource(stream).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  let peak = 0;
  const until = performance.now() + 2500;
  while (performance.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
    analyser.getFloatTimeDomainData(buf);
    let s = 0; for (const x of buf) s += x * x;
    peak = Math.max(peak, Math.sqrt(s / buf.length));
  }
  return peak;
};
</script>"""

STRICT_CSP = "default-src 'none'; script-src 'nonce-n1'"


async def _serve(page: Any, html: str, csp: str | None = None) -> None:
    headers = {"Content-Type": "text/html"}
    if csp:
        headers["Content-Security-Policy"] = csp

    async def handler(route: Any) -> None:
        await route.fulfill(status=200, headers=headers, body=html)

    await page.route(PAGE_URL, handler)


async def test_fake_mic_speaks_the_recording(
    launch_browser: LaunchBrowser, watch: PageWatch, tmp_path: Path
) -> None:
    recording = await record(tmp_path / "mic.wav", [Utterance("Hello there, Parley.", at_s=0.3)])
    assert 0.8 < recording.speech_ends_s[0] < 3.0
    browser = await launch_browser(recording=recording)
    page = await browser.new_page()
    await watch.attach(page)
    await _serve(page, MIC_PAGE, STRICT_CSP)
    await page.goto(PAGE_URL)
    peak = await page.evaluate("window.level()")
    assert peak > 0.02  # speech, not the fake device's default beep-free silence
    watch.assert_clean()


async def test_denied_mic_is_refused(launch_browser: LaunchBrowser, watch: PageWatch) -> None:
    browser = await launch_browser(mic="deny")
    page = await browser.new_page()
    await watch.attach(page)
    await _serve(page, MIC_PAGE, STRICT_CSP)
    await page.goto(PAGE_URL)
    error = await page.evaluate("window.level().then(() => 'granted', (e) => e.name)")
    assert error == "NotAllowedError"


async def test_watch_catches_csp_violations_and_console_errors(
    launch_browser: LaunchBrowser, watch: PageWatch
) -> None:
    browser = await launch_browser()
    page = await browser.new_page()
    await watch.attach(page)
    html = (
        "<!doctype html><title>csp</title><script>window.x = 1</script>"
        '<script nonce="n1">console.error("boom")</script>'
    )
    await _serve(page, html, STRICT_CSP)
    await page.goto(PAGE_URL)
    await page.wait_for_timeout(200)
    assert any("script-src" in v for v in watch.csp_violations)
    assert any("boom" in e for e in watch.console_errors)


async def test_serve_parley_answers_the_browser(
    launch_browser: LaunchBrowser, watch: PageWatch, serve_parley: Any
) -> None:
    server = await serve_parley()
    assert server.url == f"http://127.0.0.1:{server.port}"
    browser = await launch_browser()
    page = await browser.new_page()
    await watch.attach(page)
    response = await page.goto(f"{server.url}/healthz")
    assert response is not None
    assert response.status == 200
