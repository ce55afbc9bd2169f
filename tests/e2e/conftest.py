"""Real-browser fixtures: Debian's Chromium driven by Playwright, a fake microphone that speaks
eSpeak NG recordings, watchers for console errors and CSP violations, screenshots, and Parley on
a real port.

Chromium is Debian's (``apt-get install chromium``): Playwright never downloads a browser here.
Without it the browser tests skip on a developer's machine and fail under CI (``CI`` set), where
``.ci/run`` installs it, so a missing browser can never pass CI silently.

Use::

    async def test_x(launch_browser, parley_server, watch, artifacts_dir, tmp_path):
        rec = await record(tmp_path / "mic.wav", [Utterance("hello", at_s=0.5)])
        browser = await launch_browser(recording=rec)
        page = await browser.new_page()
        watch.attach(page)
        await page.goto(parley_server.url)
        ...
        watch.assert_clean()
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.e2e.speech import Recording
from tests.support.server import free_port, serve_app
from voice_server.app import create_app
from voice_server.settings import Settings

CHROMIUM = shutil.which("chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"  # git-ignored; CI keeps the folder
PROBE_JS = (Path(__file__).parent / "probe.js").read_text()

# Verified on this machine kind (shared/BROWSER_TESTING.md): a fake mic that plays a file once,
# permissions granted without a prompt, audio allowed to play without a gesture (the widget
# still unlocks its audio inside the tap; the flag only makes `play()` resolve headless), and
# real host addresses in ICE candidates (aiortc cannot resolve mDNS names). Pages answered by
# Playwright's router have no address space of their own, so Chromium's Local Network Access
# checks would refuse their WebSockets to 127.0.0.1 (a real site and server are both public).
# One --disable-features flag: Chromium keeps only the last one given.
BASE_FLAGS = (
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks",
    "--no-first-run",
    "--no-default-browser-check",
)
GRANT_MIC_FLAG = "--use-fake-ui-for-media-stream"
# With no fake-UI flag a headless prompt would hang; this answers it "deny".
DENY_MIC_FLAG = "--deny-permission-prompts"


def _require_chromium() -> str:
    if CHROMIUM is not None:
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed; .ci/run installs it with apt")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


def _require_playwright() -> Any:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed; it is in the dev extra")
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    return async_playwright


class LaunchBrowser(Protocol):
    def __call__(
        self,
        *,
        recording: Recording | None = ...,
        mic: str = ...,
        extra_args: Sequence[str] = ...,
    ) -> Awaitable[Any]: ...


@pytest.fixture
async def launch_browser() -> AsyncIterator[LaunchBrowser]:
    """Launch headless Chromium; every browser launched is closed when the test ends.

    ``recording``: what the fake microphone says (one file per browser: Chromium plays it once
    from when the page opens the mic). ``mic="deny"``: getUserMedia is refused.
    """
    executable = _require_chromium()
    async_playwright = _require_playwright()
    browsers: list[Any] = []
    async with async_playwright() as driver:

        async def launch(
            *,
            recording: Recording | None = None,
            mic: str = "grant",
            extra_args: Sequence[str] = (),
        ) -> Any:
            args = list(BASE_FLAGS)
            args.append(GRANT_MIC_FLAG if mic == "grant" else DENY_MIC_FLAG)
            if recording is not None:
                args.append(recording.chromium_arg)
            args.extend(extra_args)
            browser = await driver.chromium.launch(
                executable_path=executable, headless=True, args=args
            )
            browsers.append(browser)
            return browser

        try:
            yield launch
        finally:
            for browser in browsers:
                await browser.close()


@dataclass
class PageWatch:
    """Collects what must never happen on a page: console errors, uncaught exceptions and CSP
    violations (reported by probe.js through an exposed function, which survives reloads)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    # Console errors a test expects (e.g. the failed request of a refused origin).
    allowed: list[str] = field(default_factory=list)

    async def attach(self, page: Any) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        await page.expose_function("__reportCsp", self._on_csp)
        await page.add_init_script(PROBE_JS)

    def _on_csp(self, report: str) -> None:
        self.csp_violations.append(report)

    def _on_console(self, message: Any) -> None:
        if message.type == "error":
            text = f"{message.text} @ {message.location.get('url', '')}"
            if not any(fragment in text for fragment in self.allowed):
                self.console_errors.append(text)

    def assert_clean(self) -> None:
        assert self.page_errors == [], f"uncaught errors: {self.page_errors}"
        assert self.csp_violations == [], f"CSP violations: {self.csp_violations}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """Where screenshots go: tests/e2e/artifacts/<test name>/ (kept by CI, git-ignored)."""
    folder = ARTIFACTS / request.node.name.replace("[", "-").replace("]", "").replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class LiveServer:
    url: str
    port: int
    settings: Settings


ServeParley = Callable[..., Awaitable[LiveServer]]


@pytest.fixture
async def serve_parley(tmp_path: Path, database_url: str) -> AsyncIterator[ServeParley]:
    """Start the whole app (``create_app``) on a real port of 127.0.0.1 against this test's
    database; keyword arguments become settings. The port is chosen before the app is built,
    so settings that name the server's own origin (the demo's key) can use it."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:

        async def start(**overrides: object) -> LiveServer:
            port = free_port()
            values: dict[str, object] = {
                "data_dir": tmp_path / "data",
                "log_json": True,
                "database_url": database_url,
                "host": "127.0.0.1",
                "port": port,
            }
            values.update(overrides)
            settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
            url = await stack.enter_async_context(serve_app(create_app(settings), port=port))
            return LiveServer(url=url, port=port, settings=settings)

        yield start


def audio_levels(probe: dict[str, Any]) -> list[tuple[float, float]]:
    """``(page time ms, RMS)`` of what the page played, from probe.js."""
    return [(float(t), float(rms)) for t, rms in probe["audio"]]


def first_energy_after(
    levels: list[tuple[float, float]], after_ms: float, threshold: float = 0.01
) -> float | None:
    """Page time of the first audible sample after ``after_ms`` (RMS 0.01 is about -40 dBFS)."""
    for t, rms in levels:
        if t >= after_ms and rms >= threshold:
            return t
    return None


def silence_start_after(
    levels: list[tuple[float, float]],
    after_ms: float,
    *,
    hold_ms: float = 300.0,
    threshold: float = 0.003,
) -> float | None:
    """Page time at which output went quiet after ``after_ms`` and stayed quiet ``hold_ms``
    (real replies have short pauses; a stop is a silence that lasts)."""
    start: float | None = None
    for t, rms in levels:
        if t < after_ms:
            continue
        if rms < threshold:
            start = t if start is None else start
            if t - start >= hold_ms:
                return start
        else:
            start = None
    return None
