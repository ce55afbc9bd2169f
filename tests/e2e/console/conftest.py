"""Browser fixtures of the console tests (their own, so they do not depend on the widget's):
Debian's chromium driven by Playwright, Parley on a real port, a watcher that fails the test on
console errors or CSP violations, axe-core injected for accessibility checks, screenshots.

Chromium comes from apt and axe-core from the console's npm folder (`npm ci --prefix
dashboard_api/console/assets`, done by .ci/run). Missing either, the tests skip on a developer's
machine and fail under CI (``CI`` set)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import serve_app
from voice_server.app import create_app
from voice_server.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
AXE = ROOT / "dashboard_api/console/assets/node_modules/axe-core/axe.min.js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"  # git-ignored (see .gitignore here)
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _need(what: str, ok: bool, how: str) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: {how}")
    pytest.skip(f"{what} is missing: {how}")


@dataclass
class Watch:
    """Console errors and CSP violations seen by the pages it is attached to."""

    problems: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    async def csp_violations(self, page: Any) -> list[str]:
        found: list[str] = await page.evaluate("window.__cspViolations || []")
        return found

    def assert_clean(self) -> None:
        # The widget's script may 404 until the widget lands; nothing else may fail.
        real = [p for p in self.problems if "parley.js" not in p and "404" not in p]
        assert real == [], real


CSP_PROBE = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


@pytest.fixture
async def console_server(settings: Settings) -> AsyncIterator[str]:
    async with serve_app(create_app(settings)) as url:
        yield url


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    chromium = shutil.which("chromium")
    _need("chromium", chromium is not None, "apt-get install chromium")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _need("playwright", False, "pip install -e '.[dev]'")
        raise
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def axe_source() -> str:
    _need("axe-core", AXE.is_file(), "npm ci --prefix dashboard_api/console/assets")
    return AXE.read_text()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


async def axe_violations(page: Any, source: str) -> list[str]:
    """A and AA violations on the page. Injected through the DevTools protocol, which the
    page's CSP does not govern (a <script> tag would be refused, as it should be)."""
    await page.evaluate(source)
    result = await page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))",
        WCAG_AA,
    )
    return list(result)
