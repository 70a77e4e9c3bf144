"""Text PostgreSQL cannot hold: a NUL character is refused at the door, not deep inside.

The read models keep questions, names and ids in ``text`` and ``jsonb`` columns,
neither of which takes U+0000; accepted, such text would be recorded and then
stop the projector (so every list would freeze), or reach a query as a 503.
"""

from __future__ import annotations

import pytest

from tests.workers.api.conftest import PROBLEM, Api, raise_body
from tests.workers.api.journey import act, expect, in_queue, raise_one


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/share-requests", raise_body(raised_by="dsl-okonjo\u0000")),
        ("POST", "/v1/hub/share-requests/{request_id}/advice-requests", {"question": "Safe\0?"}),
        ("POST", "/v1/hub/share-requests/{request_id}/triage", {"rag": "red", "rationale": "a\0b"}),
        ("GET", "/v1/audit/streams/share-request-%00/events", None),
        ("GET", "/v1/hub/queue?cursor=%00", None),
    ],
)
async def test_a_nul_character_is_refused_and_records_nothing(
    api: Api, method: str, path: str, body: object
) -> None:
    request_id = await raise_one(api)
    await in_queue(api, request_id)
    await act(api, api.callers.officer, request_id, "triage", {"rag": "amber", "rationale": "Soon"})
    before = await api.quiet()
    caller = {
        "/v1/share-requests": api.callers.school,
        "/v1/audit/streams/share-request-%00/events": api.callers.auditor,
    }.get(path, api.callers.officer)

    url = path.format(request_id=request_id)
    refused = await api.http.request(method, url, json=body, headers=caller.headers)

    assert refused.status_code in (400, 422), refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert await api.quiet() == before
    # The projector still follows the log: the next action shows in the queue.
    await act(api, api.callers.officer, request_id, "advice-requests", {"question": "Share?"})
    await api.settled()
    queue = expect(await api.http.get("/v1/hub/queue", headers=api.callers.officer.headers), 200)
    assert str(request_id) in {item["request_id"] for item in queue["items"]}
