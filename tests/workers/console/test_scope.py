"""Each role sees exactly what the API lets it see: another agency's record is "not found",
another role's page is refused, and neither leaves anything in the log."""

from __future__ import annotations

from playwright.async_api import expect

from tests.workers.api.journey import to_disclosure
from tests.workers.console.conftest import Console


async def test_an_agency_cannot_open_another_agencys_request(console: Console) -> None:
    api, c = console.api, console.api.callers
    journey = await to_disclosure(api)  # raised by the school, disclosed to the police
    request, disclosure = journey.request_id, journey.disclosure_id
    housing = await console.visitor(c.housing)
    police = await console.visitor(c.police)
    school = await console.visitor(c.school)
    advisor = await console.visitor(c.advisor)
    auditor = await console.visitor(c.auditor)
    head = await api.quiet()

    refusals = [
        (housing, f"/agency/requests/{request}", 404),  # neither referrer nor recipient
        (housing, f"/agency/disclosures/{disclosure}", 404),
        (police, f"/agency/requests/{request}", 404),  # a recipient, not the referrer
        (school, f"/agency/disclosures/{disclosure}", 404),  # the referrer, not the recipient
        (housing, f"/requests/{request}", 403),  # the hub's page: not for agencies
        (advisor, f"/requests/{request}", 403),  # an advisor never sees the request
        (advisor, "/queue", 403),
        (auditor, "/queue", 403),
        (police, "/audit", 403),
    ]
    for visitor, path, status in refusals:
        response = await visitor.page.goto(path)
        assert response is not None and response.status == status, (visitor.caller.name, path)
        assert "Amara" not in await visitor.page.content()
    await expect(
        housing.page.get_by_role("heading", name="You cannot open this page")
    ).to_be_visible()
    await housing.checked("forbidden")
    await housing.page.goto(f"/agency/requests/{request}")
    await expect(housing.page.get_by_role("heading", name="Page not found")).to_be_visible()
    await housing.checked("not-found")
    response = await housing.page.goto("/agency/requests/not-an-id")
    assert response is not None and response.status == 404
    assert await api.quiet() == head, "a refused page was recorded as a view"

    # An administrator has no pages here: the first page says where their work is.
    admin = await console.visitor(c.admin)
    await expect(admin.page.get_by_role("heading", level=1)).to_contain_text("signed in as")
    await admin.checked()
    response = await admin.page.goto("/queue")
    assert response is not None and response.status == 403
    assert await api.quiet() == head

    # Their own records open, and each opening is in the access log.
    response = await school.page.goto(f"/agency/requests/{request}")
    assert response is not None and response.status == 200
    response = await police.page.goto(f"/agency/disclosures/{disclosure}")
    assert response is not None and response.status == 200
    viewed = [e for e in await api.events_after(head) if e.type == "RecordViewed"]
    assert sorted(e.actor.id for e in viewed) == sorted([c.school.actor_id, c.police.actor_id])
