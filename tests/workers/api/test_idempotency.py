"""Raising with an Idempotency-Key: a repeat gets the first answer, never a second request."""

from __future__ import annotations

import uuid
from uuid import UUID

from temporalio.client import Client

from events.share_requests import stream_id_for
from tests.workers.api.conftest import PROBLEM, Api, raise_body
from tests.workers.api.journey import expect


async def raised_events(api: Api) -> list[UUID]:
    """The request id of every ShareRequestRaised in the log."""
    await api.quiet()
    return [
        UUID(e.data["request_id"])
        for e in await api.store.read_all()
        if e.type == "ShareRequestRaised"
    ]


async def workflows_started(client: Client, request_id: UUID) -> int:
    return len([w async for w in client.list_workflows(f"WorkflowId = '{request_id}'")])


async def test_a_repeated_raise_answers_the_first_time_again(api: Api, client: Client) -> None:
    school = {**api.callers.school.headers, "Idempotency-Key": "mis-export-2026-04-14-0001"}
    first = await api.http.post("/v1/share-requests", json=raise_body(), headers=school)
    answer = expect(first, 201)
    request_id = UUID(answer["request_id"])
    assert "idempotent-replayed" not in first.headers
    assert first.headers["location"] == f"/v1/share-requests/{request_id}"

    again = await api.http.post("/v1/share-requests", json=raise_body(), headers=school)
    assert expect(again, 201) == answer
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]

    assert await raised_events(api) == [request_id]
    assert len(await api.store.read_stream(stream_id_for(request_id))) == 1
    assert await workflows_started(client, request_id) == 1

    # The key belongs to the client: another agency's same key is its own raise.
    police = {**api.callers.police.headers, "Idempotency-Key": "mis-export-2026-04-14-0001"}
    theirs = expect(
        await api.http.post("/v1/share-requests", json=raise_body(), headers=police), 201
    )
    assert theirs["request_id"] != str(request_id)


async def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    school = {**api.callers.school.headers, "Idempotency-Key": "referral-7731"}
    first = expect(
        await api.http.post("/v1/share-requests", json=raise_body(), headers=school), 201
    )
    head = await api.quiet()

    other = raise_body(raised_by="deputy-dsl-lee")  # as valid, but another body
    reused = await api.http.post("/v1/share-requests", json=other, headers=school)
    problem = expect(reused, 409)
    assert reused.headers["content-type"] == PROBLEM
    assert problem["type"] == "urn:sharehub:problem:idempotency-key-reused"
    assert await api.quiet() == head
    assert await raised_events(api) == [UUID(first["request_id"])]


async def test_a_refused_body_does_not_use_up_its_key(api: Api) -> None:
    key = f"retry-after-fix-{uuid.uuid4()}"
    school = {**api.callers.school.headers, "Idempotency-Key": key}

    invalid = raise_body(recipients=[])  # not even the shape of a request
    problem = expect(await api.http.post("/v1/share-requests", json=invalid, headers=school), 422)
    assert problem["type"] == "urn:sharehub:problem:invalid-input"
    refused = raise_body(purpose="fishing_expedition")  # the shape, but not the agreement's
    problem = expect(await api.http.post("/v1/share-requests", json=refused, headers=school), 422)
    assert problem["type"] == "urn:sharehub:problem:share-request-rejected"
    assert problem["problems"]
    assert await raised_events(api) == []
    assert await api.store.query("SELECT key FROM idempotency_keys") == []

    fixed = await api.http.post("/v1/share-requests", json=raise_body(), headers=school)
    answer = expect(fixed, 201)
    assert "idempotent-replayed" not in fixed.headers
    assert await raised_events(api) == [UUID(answer["request_id"])]
