"""A share request driven through the HTTP API only, step by step, as its users would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from tests.workers.api.conftest import RECIPIENT, Api, Caller, eventually, raise_body
from tests.workflows.scenario import POLICE_ASKED

DECISION: dict[str, Any] = {
    "outcome": "share_partial",
    "lawful_basis": "art6_1e_public_task",
    "condition": "art9_2g_dpa2018_sch1_para18_safeguarding",
    "reasons": "The police need attendance and missing episodes for the strategy discussion; "
    "the GP practice is not needed at this stage.",
    "shares": [
        {"agency": RECIPIENT, "categories": list(POLICE_ASKED), "purpose": "safeguarding_strategy"}
    ],
    "consent": "not_sought",
    "consent_note": "Seeking consent could alert the adult suspected of harming the child.",
    "caveats": ["Do not disclose to the parent"],
}


@dataclass(frozen=True)
class Journey:
    request_id: UUID
    advice_id: UUID
    disclosure_id: UUID


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def raise_one(api: Api, caller: Caller | None = None, **changes: Any) -> UUID:
    caller = caller or api.callers.school
    answer = expect(
        await api.http.post(
            "/v1/share-requests", json=raise_body(**changes), headers=caller.headers
        ),
        201,
    )
    return UUID(answer["request_id"])


async def act(api: Api, caller: Caller, request_id: UUID, step: str, body: Any = None) -> Any:
    url = f"/v1/hub/share-requests/{request_id}/{step}"
    return expect(await api.http.post(url, json=body, headers=caller.headers), 200)


async def to_disclosure(api: Api) -> Journey:
    """Raised, triaged, advised, decided (partial, signed off): one disclosure to the police."""
    c = api.callers
    request_id = await raise_one(api)
    await in_queue(api, request_id)
    await act(
        api,
        c.officer,
        request_id,
        "triage",
        {"rag": "amber", "rationale": "Repeated missing episodes; within 6 hours"},
    )
    await act(api, c.officer, request_id, "advice-requests", {"question": "May we share now?"})
    await api.settled()
    inbox = expect(await api.http.get("/v1/advice-requests", headers=c.advisor.headers), 200)
    advice_id = UUID(inbox["items"][0]["advice_id"])
    expect(
        await api.http.post(
            f"/v1/advice-requests/{advice_id}/advice",
            json={"advice": "Share what the strategy discussion needs, no more."},
            headers=c.advisor.headers,
        ),
        200,
    )
    await act(api, c.manager, request_id, "decision", DECISION)
    await act(api, c.second_manager, request_id, "sign-off", {"comment": "Agreed."})
    disclosures = await eventually(
        lambda: _disclosures(api, c.police), lambda items: len(items) == 1
    )
    return Journey(request_id, advice_id, UUID(disclosures[0]["disclosure_id"]))


async def in_queue(api: Api, request_id: UUID) -> dict[str, Any]:
    """The request's line in the hub's queue, once its workflow has recorded the raise."""

    async def queue() -> list[dict[str, Any]]:
        await api.settled()
        page = expect(await api.http.get("/v1/hub/queue", headers=api.callers.officer.headers), 200)
        return [item for item in page["items"] if item["request_id"] == str(request_id)]

    [line] = await eventually(queue, lambda items: len(items) == 1)
    return line


async def _disclosures(api: Api, caller: Caller) -> list[dict[str, Any]]:
    await api.settled()
    page = expect(await api.http.get("/v1/disclosures", headers=caller.headers), 200)
    items: list[dict[str, Any]] = page["items"]
    return items
