"""Temporal refuses what sharehub did not send, on a real dev server with sharehub's worker.

An outsider who reaches the Temporal frontend sends in plaintext (as the ``temporal``
CLI does: ``temporal workflow update execute --name decide --input '{...}'``) or under a
key of their own. Their start, Update or Signal is refused, nothing is appended to the
record, the workflow keeps no failed workflow task, and a legitimate action on the same
workflow succeeds afterwards.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHistory,
    WorkflowUpdateFailedError,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer

from events.postgres import PostgresEventStore
from events.share_requests import stream_id_for
from tests.events.conftest import MASTER_KEY
from tests.workflows.scenario import MANAGER, OFFICER, raise_request, share_all, start
from workers.hub.share_requests import ShareRequestService
from workers.settings import Settings
from workers.temporal.client import data_converter
from workers.temporal.codec import EncryptionCodec, is_refused
from workflows.models import ActionResult, RecordDecision, Stage, Triage
from workflows.policy import (
    ConsentStatus,
    DataSharingAgreement,
    DecisionOutcome,
    LawfulBasis,
    ProcessingCondition,
    RagRating,
)
from workflows.share_request import ShareRequestWorkflow

OTHER_MASTER_KEY = bytes(range(1, 33))
HISTORIES = Path(__file__).resolve().parents[2] / "histories"

# What an outsider can send: JSON as the temporal CLI sends it, or ciphertext of their own.
OUTSIDERS = {
    "plaintext": pydantic_data_converter,
    "foreign key": data_converter(OTHER_MASTER_KEY),
}


def decision() -> RecordDecision:
    """A decision that passes the validator: refused only because of who sent it."""
    return RecordDecision(
        actor=MANAGER,
        outcome=DecisionOutcome.SHARE,
        lawful_basis=LawfulBasis.PUBLIC_TASK,
        condition=ProcessingCondition.SAFEGUARDING_OF_CHILDREN,
        reasons="Repeated missing episodes; police need the school and GP picture.",
        shares=share_all(),
        consent=ConsentStatus.GIVEN,
    )


async def outsider(settings: Settings, converter: DataConverter) -> Client:
    return await Client.connect(settings.resolved_temporal_address(), data_converter=converter)


async def recorded_types(store: PostgresEventStore, request_id: uuid.UUID) -> list[str]:
    return [event.type for event in await store.read_stream(stream_id_for(request_id))]


def events_of_type(history: WorkflowHistory, event_type: EventType.ValueType) -> list[Any]:
    return [event for event in history.events if event.event_type == event_type]


async def triaged_request(service: ShareRequestService) -> uuid.UUID:
    request = raise_request()
    await service.raise_request(request)
    await service.act(
        request.request_id,
        Triage(actor=OFFICER, rag=RagRating.AMBER, rationale="Missing episodes, no current harm"),
    )
    return request.request_id


@pytest.mark.parametrize("sent_as", sorted(OUTSIDERS))
async def test_an_outsiders_decide_update_is_refused_and_a_legitimate_one_then_succeeds(
    service: ShareRequestService,
    client: Client,
    store: PostgresEventStore,
    settings: Settings,
    worker: None,
    sent_as: str,
) -> None:
    request_id = await triaged_request(service)
    before = await recorded_types(store, request_id)
    assert before == ["ShareRequestRaised", "TriageRecorded"]
    intruder = await outsider(settings, OUTSIDERS[sent_as])
    handle = intruder.get_workflow_handle(str(request_id))

    # The CLI's --input is JSON of the fields, in a hub manager's name.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update("decide", decision().model_dump(mode="json"))
    # A Signal of the same: the workflow has no such signal, but its input is decoded too.
    await handle.signal("decide", decision().model_dump(mode="json"))

    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "PayloadRefused" and cause.non_retryable
    # The reason travels encrypted under sharehub's key: the outsider reads nothing of it.
    assert cause.message == "Encoded failure"
    assert await recorded_types(store, request_id) == before
    # sharehub's own client reads why, and the workflow is where it was.
    ours = client.get_workflow_handle_for(ShareRequestWorkflow.run, str(request_id))
    assert await ours.query(ShareRequestWorkflow.stage) is Stage.TRIAGED

    result = await service.act(request_id, decision())

    assert result.stage is Stage.DISCLOSING
    assert await recorded_types(store, request_id) == [*before, "DecisionRecorded"]
    history = await ours.fetch_history()
    assert events_of_type(history, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) == []
    # The refused Update left no trace: only the legitimate one was accepted.
    accepted = events_of_type(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    assert [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in accepted
    ] == ["triage", "decide"]


@pytest.mark.parametrize("sent_as", sorted(OUTSIDERS))
async def test_an_outsiders_start_fails_at_once_and_records_nothing(
    client: Client,
    store: PostgresEventStore,
    settings: Settings,
    policy: DataSharingAgreement,
    worker: None,
    sent_as: str,
) -> None:
    start_input = start(policy)
    request_id = start_input.request.request_id
    intruder = await outsider(settings, OUTSIDERS[sent_as])

    handle = await intruder.start_workflow(
        ShareRequestWorkflow.run,
        start_input,
        id=str(request_id),
        task_queue=settings.temporal_task_queue,
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()

    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "PayloadRefused" and cause.message == "Encoded failure"
    assert await recorded_types(store, request_id) == []
    history = await handle.fetch_history()
    assert events_of_type(history, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) == []
    assert events_of_type(history, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == []
    # sharehub reads the reason; nothing of the request is in it.
    with pytest.raises(WorkflowFailureError) as seen_by_us:
        await client.get_workflow_handle(str(request_id)).result()
    reason = str(seen_by_us.value.cause)
    assert "did not send" in reason and "Okafor" not in reason

    # sharehub's own start of the same id then runs (the refused run is closed).
    ours = await client.start_workflow(
        ShareRequestWorkflow.run,
        start_input,
        id=str(request_id),
        task_queue=settings.temporal_task_queue,
    )
    result: ActionResult = await ours.execute_update(
        ShareRequestWorkflow.triage,
        Triage(actor=OFFICER, rag=RagRating.AMBER, rationale="Missing episodes, no current harm"),
    )
    assert result.stage is Stage.TRIAGED
    assert await recorded_types(store, request_id) == ["ShareRequestRaised", "TriageRecorded"]


class CountingCodec(EncryptionCodec):
    """sharehub's codec, counting the payloads it decodes and those it refuses."""

    decoded = 0
    refused = 0

    async def decode(self, payloads: Any) -> Any:
        decoded = await super().decode(payloads)
        CountingCodec.decoded += len(decoded)
        CountingCodec.refused += sum(is_refused(payload) for payload in decoded)
        return decoded


async def test_the_sdks_own_plaintext_payloads_never_reach_the_codec() -> None:
    """A history holds a json/plain patch marker and the TemporalChangeVersion search
    attribute; replaying it refuses nothing, so neither passes through the codec."""
    path = HISTORIES / "full_share_closed.json"
    raw = path.read_text()
    # The patch marker and the search attribute: "json/plain", base64 in the JSON.
    assert raw.count('"encoding": "anNvbi9wbGFpbg=="') == 2
    assert "core_patch" in raw and "TemporalChangeVersion" in raw
    history = WorkflowHistory.from_json(ShareRequestWorkflow.__name__, raw)
    converter = data_converter(MASTER_KEY)
    codec = CountingCodec.for_master_key(MASTER_KEY)
    CountingCodec.decoded = CountingCodec.refused = 0

    replayer = Replayer(
        workflows=[ShareRequestWorkflow],
        data_converter=DataConverter(
            payload_converter_class=converter.payload_converter_class,
            payload_codec=codec,
            failure_converter_class=converter.failure_converter_class,
        ),
    )
    await replayer.replay_workflow(history)

    assert CountingCodec.decoded > 10  # every input, result and update went through it
    assert CountingCodec.refused == 0


async def test_a_start_with_no_input_fails_at_once_and_records_nothing(
    client: Client,
    store: PostgresEventStore,
    settings: Settings,
    policy: DataSharingAgreement,
    worker: None,
) -> None:
    """No payload reaches the codec to be refused; the workflow refuses the start itself."""
    request_id = uuid.uuid4()
    intruder = await outsider(settings, pydantic_data_converter)
    handle = await intruder.start_workflow(
        "ShareRequestWorkflow", id=str(request_id), task_queue=settings.temporal_task_queue
    )
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()

    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "MissingStart"
    assert cause.non_retryable
    history = await handle.fetch_history()
    assert events_of_type(history, EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) == []
    assert events_of_type(history, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) == []
    assert await recorded_types(store, request_id) == []
