"""One share request through the console, each person in their own browser, as issue 6 tells it.

A hub officer triages it from the queue and seeks advice; the advisor answers from a
pseudonymised packet, with no child's name anywhere in the page; the officer decides
a partial share; a manager signs it off; the recipient sees and acknowledges its
disclosure; the referrer sees the outcome; an auditor verifies the log, replays the
request to before the decision and downloads the decision report; the officer records
the family step and closes the request. Every page passes axe-core, and each is
photographed for the README.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from uuid import UUID

from playwright.async_api import expect

from events.access import access_log_stream
from events.share_requests import stream_id_for
from events.signed_checkpoints import CheckpointSigner
from tests.events.test_signed_checkpoints import sign_now
from tests.workers.api.conftest import RECIPIENT, raise_body
from tests.workers.api.journey import act, in_queue, raise_one
from tests.workers.console.conftest import Console
from tests.workflows.scenario import GP_ASKED
from workers.audit.keys import signing_key

QUESTION = "Is sharing with the police without consent proportionate here?"


def identity() -> list[str]:
    """Everything that would tell an advisor who the child is (or who the family are)."""
    body = raise_body()
    found = [body["child"]["nhs_number"], body["child"]["nhs_number"].replace(" ", "")]
    for person in body["details"]["people"]:
        found += [person["given_names"], person["family_name"]]
        if person.get("date_of_birth"):
            found.append(person["date_of_birth"])
        if person.get("address"):
            found += person["address"]["lines"]
            found.append(person["address"]["postcode"])
    return found


def assert_anonymous(html: str, request_id: UUID) -> None:
    assert str(request_id) not in html, "the advisor may not learn which request it is"
    for part in identity():
        assert part not in html, f"{part!r} shown to the advisor"


async def test_a_request_from_the_queue_to_its_acknowledged_disclosure(console: Console) -> None:
    api, c = console.api, console.api.callers
    request_id = await raise_one(api)
    await in_queue(api, request_id)
    # Two more in the queue, rated already, for company (and for the README's picture).
    for rag, rationale in (("red", "Disclosure of harm today"), ("green", "Known to early help")):
        other = await raise_one(api)
        await in_queue(api, other)
        await act(api, c.manager, other, "triage", {"rag": rag, "rationale": rationale})
    await api.settled()

    # A hub officer finds it in the queue and opens it.
    officer = await console.visitor(c.officer)
    page = await officer.open("/queue")
    line = page.locator(f'tr[data-request-id="{request_id}"]')
    await expect(line).to_contain_text("Awaiting triage")
    await officer.checked("queue")
    await line.get_by_role("link").click()
    await expect(page).to_have_url(f"{console.url}/requests/{request_id}")
    await expect(page.locator(".sharehub-child")).to_contain_text("Amara Okafor")
    await officer.checked()

    triage = page.locator("#triage-form")
    await triage.get_by_label("Amber").check()
    await triage.get_by_label("Rationale for the rating").fill("Three missing episodes this month")
    await triage.get_by_role("button", name="Record the rating").click()
    assert "Rated amber" in await officer.banner()

    ask = page.locator("#seek-advice-form")
    await ask.get_by_label("Question for the information governance advisor").fill(QUESTION)
    await ask.get_by_role("button", name="Seek advice").click()
    assert "sought" in await officer.banner()

    # The advisor: the packet and the question, nobody's name, not even the request's id.
    advisor = await console.visitor(c.advisor)
    page = await advisor.open("/advice")
    await expect(page.get_by_text(QUESTION).first).to_be_visible()
    assert_anonymous(await page.content(), request_id)
    await advisor.checked("advice-inbox")
    await page.get_by_role("link", name=re.compile("Answer this question")).click()
    assert_anonymous(await page.content(), request_id)
    await expect(page.get_by_role("cell", name=re.compile(r"^Child [0-9A-Z]{5}"))).to_be_visible()
    await advisor.checked("advice-request")
    await page.get_by_label("Your advice").fill("Yes: the risk outweighs the intrusion.")
    await page.get_by_role("button", name="Send your advice").click()
    assert "advice is recorded" in await advisor.banner()
    assert_anonymous(await page.content(), request_id)

    # The officer decides to share in part: the police get what they asked for, the GP nothing.
    page = officer.page
    await page.goto(f"/requests/{request_id}")
    await expect(page.locator("#advice-list")).to_contain_text(
        "Yes: the risk outweighs the intrusion."
    )
    # The timeline shows who acted by name; the client id recorded is behind it.
    await expect(page.locator(f'td span[title="{c.officer.actor_id}"]').first).to_have_text(
        "officer-reid"
    )
    decision = page.locator("#decision-form")
    await decision.get_by_label("Share in part").check()
    for category in GP_ASKED:
        await decision.locator(
            f'input[name="share-riverside-medical-practice"][value="{category}"]'
        ).uncheck()
    await decision.get_by_role("radio", name="Not sought").check()
    await decision.get_by_label("Why consent was not sought").fill(
        "Seeking consent could alert the adult suspected of harming the child."
    )
    await decision.get_by_label("Handling caveats").fill("Do not disclose to the parent")
    await decision.get_by_label("Reasons for the decision").fill(
        "The police need attendance and missing episodes for the strategy discussion; "
        "the GP practice is not needed at this stage."
    )
    await decision.get_by_role("button", name="Record the decision").click()
    assert "awaiting a hub manager's sign-off" in await officer.banner()
    await expect(page.locator("#sign-off-form")).to_have_count(0)  # not the officer's to do

    # A hub manager signs it off; the disclosures follow.
    manager = await console.visitor(c.manager)
    page = await manager.open(f"/requests/{request_id}")
    sign_off = page.locator("#sign-off-form")
    await sign_off.get_by_label("Comment (optional)").fill("Agreed: proportionate.")
    await sign_off.get_by_role("button", name="Sign off the decision").click()
    assert "signed off" in await manager.banner()
    await manager.reload_until("Disclosures")
    await page.reload()  # without the banner, for the picture
    await manager.checked("request")

    # The recipient agency: its disclosure, whom it concerns, and its acknowledgement.
    police = await console.visitor(c.police)
    page = await police.open("/agency")
    await police.reload_until("Acknowledge")
    await police.checked("agency")
    await (
        page.locator("#received")
        .locator("..")
        .get_by_role("link", name=re.compile("open the disclosure"))
        .first.click()
    )
    await expect(page.get_by_text("Amara Okafor")).to_be_visible()
    await expect(page.get_by_text("Do not disclose to the parent")).to_be_visible()
    await expect(page.get_by_text("Household members")).to_have_count(0)  # the GP's, not shared
    await police.checked("agency-disclosure")
    await page.get_by_role("button", name="Acknowledge").click()
    assert "acknowledged" in await police.banner()
    await expect(page.get_by_text("Acknowledged", exact=True)).to_be_visible()

    # The referrer: the outcome of what it raised.
    school = await console.visitor(c.school)
    page = await school.open("/agency")
    await page.get_by_role(
        "link", name=re.compile(f"open the request {str(request_id)[:8]}")
    ).click()
    await expect(page.get_by_text("Share in part")).to_be_visible()
    await school.checked("agency-request")

    # The auditor: the log is intact; the request as it stood before its decision.
    events = await api.store.read_stream(stream_id_for(request_id))
    decided = next(i for i, e in enumerate(events) if e.type == "DecisionRecorded")
    before_decision = events[decided - 1].global_position
    # A checkpoint signed with the stack's own key, as the relay's checkpointer would.
    await sign_now(api.store, CheckpointSigner(signing_key(api.app.state.context.settings)))
    auditor = await console.visitor(c.auditor)
    page = await auditor.open("/audit")
    await expect(page.get_by_text("The log is intact")).to_be_visible()
    await expect(page.get_by_text("1 signed checkpoint")).to_be_visible()
    await expect(page.get_by_text("Signature verified")).to_be_visible()
    await auditor.checked("audit")
    await page.get_by_label("Request id").fill(str(request_id))
    await page.get_by_role("button", name="Replay").click()
    await expect(page.locator("#replay-decision")).to_contain_text("Share in part")
    await page.get_by_role("link", name=re.compile(rf"^{before_decision}\W+replay to here")).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text(
        f"position {before_decision}"
    )
    await expect(page.locator("#replay-decision")).to_have_text("Not decided")
    await expect(page.get_by_text("Triaged", exact=True)).to_be_visible()
    await auditor.checked("audit-replay")
    page = await auditor.open("/audit")
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Download the report").click()
    saved = Path(await (await download.value).path())
    report = await asyncio.to_thread(saved.read_text, encoding="utf-8-sig")
    assert report.startswith("request_id,") and str(request_id) in report
    viewed = await api.store.read_stream(access_log_stream(request_id))
    assert (c.auditor.actor_id, "GET /audit/report") in {
        (e.actor.id, e.data["via"]) for e in viewed
    }

    # The officer records the family step, and closes the request once it is ready.
    page = officer.page
    await page.goto(f"/requests/{request_id}")
    family = page.locator("#family-step-form")
    await family.get_by_role("radio", name=re.compile("^Withheld")).check()
    await family.get_by_label("Reason (when withheld or deferred)").fill(
        "Telling the family now could prejudice the enquiry"
    )
    await family.get_by_role("button", name="Record the family step").click()
    assert "Family withheld" in await officer.banner()
    await officer.reload_until("Close the request")
    await page.get_by_role("button", name="Close the request").click()
    assert "Closed" in await officer.banner()
    await expect(page.get_by_text("Nothing to do: the request is closed.")).to_be_visible()
    assert RECIPIENT in {
        d["agency"]
        for d in await api.store.query(
            "SELECT agency FROM disclosure_view WHERE request_id = $1", request_id
        )
    }
