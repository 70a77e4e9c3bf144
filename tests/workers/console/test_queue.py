"""The hub's queue: most urgent first, filters, pages, and a list that refreshes itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import expect

from tests.workers.api.journey import act, in_queue, raise_one
from tests.workers.console.conftest import Console
from workers.console import queue


async def test_the_queue_refreshes_itself_filters_and_pages(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    api, c = console.api, console.api.callers
    first = await raise_one(api)
    await in_queue(api, first)
    officer = await console.visitor(c.officer)
    page = await officer.open("/queue")
    await expect(page.locator(f'tr[data-request-id="{first}"]')).to_be_visible()

    # A new request appears without the page being reloaded (htmx polls every 15 s; the
    # test fires the poll's other trigger rather than wait).
    await page.evaluate("window.stillTheSamePage = true")
    second = await raise_one(api)
    await in_queue(api, second)
    await page.evaluate("htmx.trigger('#queue-results', 'sharehub:refresh')")
    await expect(page.locator(f'tr[data-request-id="{second}"]')).to_be_visible()
    assert await page.evaluate("window.stillTheSamePage") is True

    # Filters: only amber.
    await act(api, c.officer, first, "triage", {"rag": "amber", "rationale": "Within 6 hours"})
    await api.settled()
    await page.goto("/queue?rag=amber")
    await expect(page.locator(f'tr[data-request-id="{first}"]')).to_contain_text("left")
    await expect(page.locator(f'tr[data-request-id="{second}"]')).to_have_count(0)

    # Pages: one line a page, most urgent first (the unrated one waits to be rated).
    monkeypatch.setattr(queue, "PAGE_SIZE", 1)
    await page.goto("/queue")
    await expect(page.locator(f'tr[data-request-id="{second}"]')).to_be_visible()
    await page.get_by_role("link", name="Next page").click()
    await expect(page.locator(f'tr[data-request-id="{first}"]')).to_be_visible()
    await officer.checked()
    await page.get_by_role("link", name="First page").click()
    await expect(page.locator(f'tr[data-request-id="{second}"]')).to_be_visible()


def test_overdue_lines_are_flagged() -> None:
    line = {"stage": "triaged", "time_left_seconds": -1500, "sla_breached_at": None}
    assert queue._line(line)["overdue"] is True
    assert queue._line(line)["clock"] == "Overdue by 25 min"
    breached = {**line, "time_left_seconds": 60, "sla_breached_at": datetime.now(UTC)}
    assert queue._line(breached)["overdue"] is True
    running = {**line, "time_left_seconds": 2 * 3600 + 5 * 60}
    assert queue._line(running) | {"overdue": False} == queue._line(running)
    assert queue._line(running)["clock"] == "2 h 05 min left"
    unrated = {"stage": "raised", "time_left_seconds": -600, "sla_breached_at": None}
    assert queue._line(unrated)["overdue"] is False
