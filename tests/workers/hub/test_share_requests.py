"""The share-request service on a real stack: raising, acting, and what each refusal leaves."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from events.postgres import PostgresEventStore
from events.share_requests import stream_id_for
from tests.workflows.scenario import OFFICER, POLICE, SCHOOL_DSL, raise_request
from workers.hub.share_requests import (
    ActionRejected,
    RequestAlreadyRaised,
    RequestRejected,
    ShareRequestFinished,
    ShareRequestService,
    UnknownShareRequest,
)
from workflows.models import (
    RaiseShareRequest,
    RequestedInformation,
    Stage,
    Triage,
    Withdraw,
)
from workflows.policy import RagRating


async def recorded_types(store: PostgresEventStore, request_id: uuid.UUID) -> list[str]:
    return [e.type for e in await store.read_stream(stream_id_for(request_id))]


async def workflow_exists(client: Client, request_id: uuid.UUID) -> bool:
    try:
        await client.get_workflow_handle(str(request_id)).describe()
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def test_an_invalid_request_is_refused_with_every_problem_and_starts_nothing(
    service: ShareRequestService, client: Client, store: PostgresEventStore, worker: None
) -> None:
    valid = raise_request()
    invalid = valid.model_copy(
        update={
            "referrer": OFFICER,
            "recipients": (
                RequestedInformation(agency="bright-futures-youth", categories=("gp_contacts",)),
            ),
        }
    )
    with pytest.raises(RequestRejected) as refused:
        await service.raise_request(invalid)
    problems = " | ".join(refused.value.problems)
    assert "raised by agencies, not by a hub_officer" in problems
    assert "bright-futures-youth" in problems
    assert not await workflow_exists(client, invalid.request_id)
    assert await recorded_types(store, invalid.request_id) == []


async def test_a_request_id_is_raised_once_even_after_it_ended(
    service: ShareRequestService, store: PostgresEventStore, worker: None
) -> None:
    request = raise_request()
    result = await service.raise_request(request)
    assert result.stage is Stage.RAISED
    with pytest.raises(RequestAlreadyRaised):
        await service.raise_request(request)
    await service.act(
        request.request_id, Withdraw(actor=SCHOOL_DSL, reason="Raised in error, sorry")
    )
    with pytest.raises(RequestAlreadyRaised):
        await service.raise_request(request)
    assert await recorded_types(store, request.request_id) == [
        "ShareRequestRaised",
        "ShareRequestWithdrawn",
    ]


async def test_a_refused_action_says_why_and_records_nothing(
    service: ShareRequestService, store: PostgresEventStore, worker: None
) -> None:
    request = raise_request()
    await service.raise_request(request)
    with pytest.raises(ActionRejected, match="only a hub_manager or hub_officer may triage"):
        await service.act(
            request.request_id, Triage(actor=POLICE, rag=RagRating.RED, rationale="Urgent now")
        )
    result = await service.act(
        request.request_id, Triage(actor=OFFICER, rag=RagRating.AMBER, rationale="Within 6 hours")
    )
    assert result.stage is Stage.TRIAGED
    assert await recorded_types(store, request.request_id) == [
        "ShareRequestRaised",
        "TriageRecorded",
    ]


async def test_actions_on_unknown_or_finished_requests_are_named_as_such(
    service: ShareRequestService, client: Client, worker: None
) -> None:
    with pytest.raises(UnknownShareRequest):
        await service.act(uuid.uuid4(), Withdraw(actor=OFFICER, reason="No such request"))
    with pytest.raises(UnknownShareRequest):
        await service.stage(uuid.uuid4())
    request: RaiseShareRequest = raise_request()
    await service.raise_request(request)
    await service.act(request.request_id, Withdraw(actor=OFFICER, reason="A duplicate of another"))
    await client.get_workflow_handle(str(request.request_id)).result()
    assert await service.stage(request.request_id) is Stage.WITHDRAWN  # still readable
    with pytest.raises(ShareRequestFinished):
        await service.act(request.request_id, Withdraw(actor=OFFICER, reason="Again, twice"))
