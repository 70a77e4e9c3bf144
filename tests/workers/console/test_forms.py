"""Forms that are wrong: the GOV.UK error summary, each field's message, and nothing recorded.

Also the promise of progressive enhancement: with JavaScript off, a hub officer does
the same work with plain form posts (POST, redirect, GET).
"""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.workers.api.journey import act, in_queue, raise_one
from tests.workers.console.conftest import Console


async def test_a_decision_without_reasons_shows_the_error_summary_and_records_nothing(
    console: Console,
) -> None:
    api, c = console.api, console.api.callers
    request_id = await raise_one(api)
    await in_queue(api, request_id)
    await act(api, c.officer, request_id, "triage", {"rag": "red", "rationale": "Missing again"})
    officer = await console.visitor(c.officer)
    page = await officer.open(f"/requests/{request_id}")
    head = await api.quiet()  # the view of the page is in the access log; now nothing more

    decision = page.locator("#decision-form")
    await decision.get_by_label("Share everything asked for").check()
    await decision.get_by_role("radio", name="Given").check()
    await decision.get_by_role("button", name="Record the decision").click()
    summary = page.locator(".govuk-error-summary")
    await expect(summary).to_contain_text("There is a problem")
    await expect(
        summary.get_by_role("link", name="Enter the reasons for the decision")
    ).to_have_attribute("href", "#reasons")
    await expect(page.locator("#reasons-error")).to_contain_text("Enter the reasons")
    await expect(page).to_have_title(re.compile("^Error: "))
    # What was entered is still there; the child is not shown on this page.
    await expect(decision.get_by_label("Share everything asked for")).to_be_checked()
    assert "Amara" not in await page.content()
    await officer.checked("decision-error")
    assert await api.quiet() == head
    assert await api.events_after(head) == []

    # A form the workflow refuses (a partial share that leaves nothing out) records nothing too.
    await decision.get_by_label("Share in part").check()
    await decision.get_by_label("Reasons for the decision").fill("Everything asked for is needed.")
    await decision.get_by_role("button", name="Record the decision").click()
    await expect(summary).to_contain_text("must leave out something asked for")
    await expect(summary).to_contain_text("Nothing was recorded")
    await officer.checked()
    assert await api.quiet() == head

    # Each action's own message: a re-rating without a rationale, a withdrawal without a reason.
    page = await officer.open(f"/requests/{request_id}")
    head = await api.quiet()
    await page.locator("#triage-form").get_by_role("button", name="Record the rating").click()
    await expect(summary).to_contain_text("Select a RAG rating")
    await expect(summary).to_contain_text("Enter the rationale for the rating")
    await page.goto(f"/requests/{request_id}")
    head = await api.quiet()
    withdrawal = page.locator("#withdrawal-form")
    await withdrawal.get_by_label("Reason for withdrawing").fill("no")
    await withdrawal.get_by_role("button", name="Withdraw the request").click()
    await expect(summary).to_contain_text("The reason must be 3 characters or more")
    assert await api.quiet() == head


async def test_without_javascript_an_officer_triages_with_plain_form_posts(
    console: Console,
) -> None:
    api, c = console.api, console.api.callers
    request_id = await raise_one(api)
    await in_queue(api, request_id)
    officer = await console.visitor(c.officer, javascript=False)
    page = await officer.open("/queue")
    await page.get_by_role("link", name=re.compile(str(request_id)[:8])).click()
    triage = page.locator("#triage-form")
    await triage.get_by_label("Green").check()
    await triage.get_by_label("Rationale for the rating").fill("Known to early help already")
    await triage.get_by_role("button", name="Record the rating").click()
    await expect(page).to_have_url(f"{console.url}/requests/{request_id}")
    await expect(page.locator(".govuk-notification-banner")).to_contain_text("Rated green")
    await expect(page.locator("#timeline")).to_be_visible()
    assert "Known to early help already" in await page.content()
