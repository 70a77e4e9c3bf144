"""One share request from raise to close through the HTTP API only, each user in their role."""

from __future__ import annotations

import json
from uuid import UUID

from events.access import access_log_stream
from tests.workers.api.conftest import PROBLEM, RECIPIENT, REFERRER, Api, eventually
from tests.workers.api.journey import DECISION, act, expect, in_queue, raise_one
from tests.workflows.scenario import POLICE_ASKED

# What would tell an advisor who the child is (tests/workflows/scenario.py).
IDENTITY = ("Amara", "Okafor", "2016-03-02", "9434765919", "943 476 5919", "Ravensbury", "4RL")


async def test_a_request_from_raise_to_close_over_http(api: Api) -> None:
    c = api.callers
    request_id = await raise_one(api)
    line = await in_queue(api, request_id)
    assert (line["stage"], line["referrer_agency"]) == ("raised", REFERRER)

    rated = await act(
        api, c.officer, request_id, "triage", {"rag": "red", "rationale": "Missing three times"}
    )
    assert rated["stage"] == "triaged"
    await act(api, c.officer, request_id, "advice-requests", {"question": "Share without consent?"})

    # The advisor: the packet and the question, never who the child is.
    await api.settled()
    seen = []
    inbox = await api.http.get("/v1/advice-requests", headers=c.advisor.headers)
    seen.append(inbox.text)
    [item] = expect(inbox, 200)["items"]
    advice_id = item["advice_id"]
    assert item["question"] == "Share without consent?" and item["packet"]
    one = await api.http.get(f"/v1/advice-requests/{advice_id}", headers=c.advisor.headers)
    seen.append(one.text)
    assert expect(one, 200) == item
    given = await api.http.post(
        f"/v1/advice-requests/{advice_id}/advice",
        json={"advice": "Yes: the risk outweighs the intrusion; share the minimum."},
        headers=c.advisor.headers,
    )
    seen.append(given.text)
    assert expect(given, 200)["advice_id"] == advice_id
    assert str(request_id) not in "".join(seen)
    for text in seen:
        for identity in IDENTITY:
            assert identity not in text, f"{identity!r} shown to the advisor: {text}"

    decided = await act(api, c.manager, request_id, "decision", DECISION)
    assert decided["stage"] == "awaiting_sign_off"
    decider_signs = await api.http.post(
        f"/v1/hub/share-requests/{request_id}/sign-off", json={}, headers=c.manager.headers
    )
    assert expect(decider_signs, 422)["type"] == "urn:sharehub:problem:action-rejected"
    assert decider_signs.headers["content-type"] == PROBLEM
    await act(api, c.second_manager, request_id, "sign-off", {"comment": "Agreed, proportionate"})

    # The recipient: its disclosure, with whom it concerns, and only the decided items.
    async def disclosures() -> list[dict[str, object]]:
        await api.settled()
        page = expect(await api.http.get("/v1/disclosures", headers=c.police.headers), 200)
        return list(page["items"])

    [listed] = await eventually(disclosures, lambda items: len(items) == 1)
    assert (listed["agency"], listed["categories"]) == (RECIPIENT, list(POLICE_ASKED))
    disclosure_id = listed["disclosure_id"]
    detail = expect(
        await api.http.get(f"/v1/disclosures/{disclosure_id}", headers=c.police.headers), 200
    )
    # Enough to find the child in its own records, and nothing about the others named.
    assert detail["child"] == {
        "nhs_number": "9434765919",
        "absence_reason": None,
        "given_names": "Amara",
        "family_name": "Okafor",
        "date_of_birth": "2016-03-02",
        "address": {"lines": ["14 Ravensbury Terrace"], "town": None, "postcode": "SW18 4RL"},
    }
    assert "Grace" not in str(detail) and "missing from school" not in str(detail)
    assert detail["caveats"] == ["Do not disclose to the parent"]
    assert detail["request_id"] == str(request_id)
    acknowledged = await api.http.post(
        f"/v1/disclosures/{disclosure_id}/acknowledgement", headers=c.police.headers
    )
    assert "acknowledged" in expect(acknowledged, 200)["detail"]

    await act(
        api,
        c.officer,
        request_id,
        "family-step",
        {"kind": "withheld", "reason": "Telling the family now could prejudice the enquiry"},
    )
    closed = await eventually(
        lambda: api.http.post(
            f"/v1/hub/share-requests/{request_id}/closure", headers=c.manager.headers
        ),
        lambda r: r.status_code == 200,
    )
    assert expect(closed, 200)["stage"] == "closed"

    # The referrer: the outcome of what it raised, not what was shared with whom.
    await api.settled()
    outcome = expect(
        await api.http.get(f"/v1/share-requests/{request_id}", headers=c.school.headers), 200
    )
    assert (outcome["stage"], outcome["outcome"]) == ("closed", "share_partial")
    assert outcome["referrer_told_at"] is not None
    assert "child" not in outcome and "disclosures" not in outcome
    raised = expect(await api.http.get("/v1/share-requests", headers=c.school.headers), 200)
    assert [i["request_id"] for i in raised["items"]] == [str(request_id)]

    # Hub staff: the request in full.
    full = expect(
        await api.http.get(f"/v1/hub/share-requests/{request_id}", headers=c.officer.headers), 200
    )
    assert full["child"]["nhs_number"] == "9434765919"
    assert [d["acknowledged_by"] for d in full["disclosures"]] == ["dc-harris"]

    # The auditor: the raw events, the request as it stood before its decision, the chain.
    stream = expect(
        await api.http.get(
            f"/v1/audit/streams/share-request-{request_id}/events", headers=c.auditor.headers
        ),
        200,
    )
    types = [e["type"] for e in stream["items"]]
    assert types[0] == "ShareRequestRaised" and types[-1] == "ShareRequestClosed"
    assert {"DecisionRecorded", "DecisionSignedOff", "DisclosureAcknowledged"} <= set(types)
    before_decision = next(
        e["global_position"] for e in stream["items"] if e["type"] == "AdviceGiven"
    )
    then = expect(
        await api.http.get(
            f"/v1/audit/share-requests/{request_id}/state",
            params={"position": before_decision},
            headers=c.auditor.headers,
        ),
        200,
    )
    assert then["request"]["stage"] == "triaged" and then["request"]["outcome"] is None
    assert then["disclosures"] == [] and len(then["advice"]) == 1
    verdict = expect(await api.http.get("/v1/audit/verification", headers=c.auditor.headers), 200)
    assert verdict["intact"] is True and verdict["first_break"] is None
    assert verdict["events_checked"] == await api.store.head_position()

    # Every person's read of the request or its disclosure is in the access log.
    log = await api.store.read_stream(access_log_stream(UUID(str(request_id))))
    views = {(e.actor.id, e.data["record"], e.data["via"]) for e in log}
    assert all(e.type == "RecordViewed" for e in log)
    auditor = c.auditor.actor_id
    assert views == {
        (c.police.actor_id, "disclosure", "GET /v1/disclosures/{disclosure_id}"),
        (c.school.actor_id, "share_request", "GET /v1/share-requests/{request_id}"),
        (c.officer.actor_id, "share_request", "GET /v1/hub/share-requests/{request_id}"),
        (auditor, "share_request_state", "GET /v1/audit/share-requests/{request_id}/state"),
        (auditor, "share_request", "GET /v1/audit/streams/{stream_id}/events"),
    }
    assert json.dumps([e.data for e in log]).count(str(disclosure_id)) == 1
