"""The console in a real browser: Debian's Chromium driven by Playwright, against a live server.

``console`` serves the app of the ``api`` fixture (the test's own store, Temporal
worker and projector, and a key for every role) with uvicorn on a free loopback
port, in the test's event loop. ``browser`` is one Chromium for the whole session;
each person gets a browser context of their own (their own cookies), signed in
through the sign-in page. :meth:`Visitor.checked` runs axe-core on the page (no
serious or critical violation may remain) and writes a 1280x800 screenshot to
``docs/screenshots/``, which the README shows.

Chromium must be at ``/usr/bin/chromium`` (``make test`` installs Debian's package):
Playwright's own browser download cannot work here, and a missing browser fails
the tests rather than skipping them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Response,
    ViewportSize,
    async_playwright,
    expect,
)

from tests.workers.api.conftest import Api, Caller, api  # noqa: F401 (the fixture)
from workers.stack.embedded import free_port

CHROMIUM = Path("/usr/bin/chromium")
# What works on this machine's closed network (see .library/env/machines/python.md).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
SERIOUS = ("serious", "critical")
_axe = Axe()


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the browser tests need Debian's "
            "chromium package (`make test` installs it; or `apt-get install -y chromium`)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    _require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        await launched.close()


@dataclass
class Visitor:
    """One person in their own browser context, signed in with their API key."""

    caller: Caller
    context: BrowserContext
    page: Page
    checked_pages: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)  # CSP refusals among them

    def note_console(self, kind: str, text: str) -> None:
        if kind == "error" and not text.startswith("Failed to load resource"):
            self.console_errors.append(text)

    def note_response(self, response: Response) -> None:
        if response.status >= 400 and response.request.resource_type != "document":
            self.console_errors.append(f"{response.status} {response.url}")

    async def open(self, path: str) -> Page:
        await self.page.goto(path)
        return self.page

    async def checked(self, screenshot: str | None = None) -> dict[str, Any]:
        """axe-core on the page as it is: no serious or critical violation; and its picture."""
        results = await _axe.run(self.page)
        serious = [v for v in results.response["violations"] if v["impact"] in SERIOUS]
        assert not serious, f"{self.page.url}: {results.generate_report()}"
        assert not self.console_errors, f"{self.page.url}: {self.console_errors}"
        self.checked_pages.append(self.page.url)
        if screenshot:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await self.page.screenshot(path=SCREENSHOTS / f"{screenshot}.png")
        response: dict[str, Any] = results.response
        return response

    async def banner(self) -> str:
        banner = self.page.locator(".govuk-notification-banner")
        await expect(banner).to_be_visible()
        return await banner.inner_text()

    async def reload_until(self, locator_text: str, *, seconds: float = 20.0) -> None:
        """Reload until ``locator_text`` is on the page: workflows move on after answering."""
        deadline = asyncio.get_running_loop().time() + seconds
        while locator_text not in await self.page.content():
            assert asyncio.get_running_loop().time() < deadline, f"{locator_text!r} never came"
            await asyncio.sleep(0.2)
            await self.page.reload()


@dataclass
class Console:
    url: str
    api: Api
    browser: Browser
    visitors: list[Visitor] = field(default_factory=list)

    async def visitor(self, caller: Caller, *, javascript: bool = True) -> Visitor:
        """``caller`` in a browser of their own, signed in through the sign-in page."""
        context = await self.browser.new_context(
            base_url=self.url, viewport=VIEWPORT, java_script_enabled=javascript
        )
        page = await context.new_page()
        visitor = Visitor(caller, context, page)
        # A script or style the page could not load, a CSP refusal, a script error: each
        # fails the page's check. (The page itself may answer 403, 404 or 422.)
        page.on("console", lambda message: visitor.note_console(message.type, message.text))
        page.on("response", lambda response: visitor.note_response(response))
        if caller.key is not None:
            await page.goto("/sign-in")
            await page.get_by_label("API key").fill(caller.key)
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        return visitor


@pytest.fixture
async def console(api: Api, browser: Browser) -> AsyncIterator[Console]:  # noqa: F811
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(api.app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the console's server did not start"
        await asyncio.sleep(0.02)
    found = Console(url=f"http://127.0.0.1:{port}", api=api, browser=browser)
    try:
        yield found
    finally:
        for visitor in found.visitors:
            await visitor.context.close()
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await serving
