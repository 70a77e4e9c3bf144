"""Bus intake against real NATS JetStream, the Temporal dev server and PostgreSQL.

Agencies publish to their intake subjects exactly as an agency system would
(nats-py, JetStream publish, optional ``Nats-Msg-Id``) and read their answers from
``sharehub.replies.<agency>``. Each test starts from empty intake, replies and
dead-letter streams and a database of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.errors import NoStreamResponseError, NotFoundError
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from events.postgres import PostgresEventStore
from events.share_requests import stream_id_for
from tests.conftest import NATS_SERVICE_SEED
from tests.workflows.scenario import CHILD_NAME, MANAGER, OFFICER, POLICE_ASKED, raise_request
from workers.bus.identities import service_broker_options
from workers.bus.intake.consumer import (
    DEAD_LETTER_DELIVERIES,
    DEAD_LETTER_REASON,
    DEAD_LETTER_SEQUENCE,
    DEAD_LETTER_SUBJECT,
    REQUESTS_CONSUMER,
    BusIntake,
    IntakeService,
)
from workers.bus.intake.messages import (
    DeadLetter,
    IntakeAcknowledgement,
    IntakeOutcome,
    IntakeRaise,
    IntakeReply,
)
from workers.bus.intake.serving import TemporalRaisedRequests
from workers.bus.streams import (
    AGENCIES_STREAM,
    DEAD_LETTERS_STREAM,
    INTAKE_STREAM,
    REPLIES_STREAM,
    acknowledgements_subject,
    dead_letter_subject,
    replies_subject,
    requests_subject,
)
from workers.hub.share_requests import ShareRequestService, ShareRequestSubmission
from workers.hub.submissions import RequestIdOwners
from workflows.activities import AgencyNotice
from workflows.models import (
    AcknowledgeDisclosure,
    ActionResult,
    Disclosure,
    RaiseShareRequest,
    RecordDecision,
    RequestedInformation,
    Share,
    Triage,
)
from workflows.policy import (
    ConsentStatus,
    DataSharingAgreement,
    DecisionOutcome,
    LawfulBasis,
    ProcessingCondition,
    RagRating,
)

SCHOOL = "st-aldhelms-primary"
POLICE = "met-police"
GP = "riverside-medical-practice"
WAIT = 20.0


# --- fixtures and helpers -------------------------------------------------------------


@pytest.fixture
async def bus(nats_url: str) -> str:
    """The session's NATS, without the intake streams a previous test left."""
    connection = await nats.connect(nats_url, nkeys_seed_str=NATS_SERVICE_SEED)
    try:
        for stream in (INTAKE_STREAM, REPLIES_STREAM, DEAD_LETTERS_STREAM):
            with contextlib.suppress(NotFoundError):
                await connection.jetstream().delete_stream(stream)
    finally:
        await connection.close()
    return nats_url


@contextlib.asynccontextmanager
async def running_intake(
    service: IntakeService,
    client: Client,
    nats_url: str,
    store: PostgresEventStore,
    **options: Any,
) -> AsyncIterator[BusIntake]:
    intake = BusIntake(
        service,
        TemporalRaisedRequests(client),
        request_ids=RequestIdOwners(store),
        broker=NatsBroker(nats_url, **service_broker_options(NATS_SERVICE_SEED)),
        **options,
    )
    await intake.start()
    try:
        yield intake
    finally:
        await intake.stop()


@pytest.fixture
async def intake(
    bus: str,
    service: ShareRequestService,
    client: Client,
    store: PostgresEventStore,
    worker: None,
) -> AsyncIterator[BusIntake]:
    async with running_intake(service, client, bus, store) as intake:
        yield intake


@pytest.fixture
async def agencies(bus: str) -> AsyncIterator[JetStreamContext]:
    """A plain nats-py JetStream connection, as sharehub's service: it may publish as any
    agency, to see the intake's own checks (the server's are tests/workers/stack/
    test_nats_permissions.py's)."""
    connection: NatsClient = await nats.connect(bus, nkeys_seed_str=NATS_SERVICE_SEED)
    try:
        yield connection.jetstream()
    finally:
        await connection.close()


async def send(
    streams: JetStreamContext,
    subject: str,
    body: bytes | BaseModel,
    *,
    message_id: str | None = None,
) -> bool:
    """Publish as an agency does; True if JetStream stored it, False if it was a duplicate."""
    data = body.model_dump_json().encode() if isinstance(body, BaseModel) else body
    headers = {"Nats-Msg-Id": message_id} if message_id else None
    acknowledgement = await streams.publish(subject, data, headers=headers)
    return not acknowledgement.duplicate


async def replies(streams: JetStreamContext, agency: str, count: int) -> list[IntakeReply]:
    """The first ``count`` answers on the agency's replies subject; fails on any more."""
    subscription = await streams.pull_subscribe(replies_subject(agency), stream=REPLIES_STREAM)
    found: list[IntakeReply] = []
    try:
        async with asyncio.timeout(WAIT):
            while len(found) < count:
                with contextlib.suppress(nats.errors.TimeoutError, TimeoutError):
                    for message in await subscription.fetch(count - len(found), timeout=1):
                        found.append(IntakeReply.model_validate_json(message.data))
                        await message.ack()
        with contextlib.suppress(nats.errors.TimeoutError, TimeoutError):
            extra = await subscription.fetch(1, timeout=0.5)
            pytest.fail(f"an unexpected answer: {extra[0].data!r}")
    finally:
        await subscription.unsubscribe()
    return found


def submission_of(request: RaiseShareRequest) -> ShareRequestSubmission:
    fields = request.model_dump(exclude={"request_id", "referrer"})
    return ShareRequestSubmission.model_validate(fields | {"raised_by": request.referrer.id})


def raise_message(request: RaiseShareRequest | None = None) -> IntakeRaise:
    request = request or raise_request()
    return IntakeRaise(request_id=request.request_id, submission=submission_of(request))


async def recorded(
    store: PostgresEventStore, request_id: uuid.UUID, *, until: str | None = None
) -> list[str]:
    """The request's event types; with ``until``, once that type is among them."""
    async with asyncio.timeout(WAIT):
        while True:
            types = [e.type for e in await store.read_stream(stream_id_for(request_id))]
            if until is None or until in types:
                return types
            await asyncio.sleep(0.05)


async def workflow_exists(client: Client, request_id: uuid.UUID) -> bool:
    try:
        await client.get_workflow_handle(str(request_id)).describe()
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def disclosure_notice(
    streams: JetStreamContext, policy: DataSharingAgreement, agency: str, request_id: uuid.UUID
) -> AgencyNotice:
    """The disclosure notice for ``request_id`` on the agency's own subject."""
    subject = policy.agency(agency).bus_subject  # type: ignore[union-attr]
    subscription = await streams.pull_subscribe(subject, stream=AGENCIES_STREAM)
    try:
        async with asyncio.timeout(WAIT):
            while True:
                with contextlib.suppress(nats.errors.TimeoutError, TimeoutError):
                    for message in await subscription.fetch(100, timeout=0.5):
                        notice = AgencyNotice.model_validate_json(message.data)
                        if notice.request_id == request_id and notice.kind == "disclosure":
                            return notice
    finally:
        await subscription.unsubscribe()


# --- raising --------------------------------------------------------------------------


async def test_a_raise_on_the_bus_starts_the_request_and_is_answered_accepted(
    intake: BusIntake, agencies: JetStreamContext, store: PostgresEventStore, client: Client
) -> None:
    message = raise_message()

    assert await send(agencies, requests_subject(SCHOOL), message, message_id="school-1")

    [reply] = await replies(agencies, SCHOOL, 1)
    assert reply.outcome is IntakeOutcome.ACCEPTED
    assert (reply.answers, reply.request_id, reply.detail) == (
        "request",
        message.request_id,
        "raised",
    )
    assert reply.message_id == "school-1"
    assert reply.intake_subject == requests_subject(SCHOOL)
    assert await workflow_exists(client, message.request_id)
    assert await recorded(store, message.request_id, until="ShareRequestRaised") == [
        "ShareRequestRaised"
    ]
    [raised] = await store.read_stream(stream_id_for(message.request_id))
    assert raised.actor.agency == SCHOOL  # the subject's agency, not the body's
    assert raised.actor.id == message.submission.raised_by


async def test_a_duplicate_raise_never_starts_a_second_request(
    intake: BusIntake, agencies: JetStreamContext, store: PostgresEventStore, client: Client
) -> None:
    message = raise_message()
    subject = requests_subject(SCHOOL)

    assert await send(agencies, subject, message, message_id="school-1")
    # The same Nats-Msg-Id: JetStream drops it, and nothing reaches the intake.
    assert not await send(agencies, subject, message, message_id="school-1")
    # A new Nats-Msg-Id: the intake sees the request id again.
    assert await send(agencies, subject, message, message_id="school-2")
    # The same request id for a different (valid) request.
    other = message.model_copy(
        update={"submission": message.submission.model_copy(update={"raised_by": "head-ellis"})}
    )
    assert await send(agencies, subject, other, message_id="school-3")

    # Messages in one fetch are handled concurrently: answers come in any order.
    answers = {reply.message_id: reply for reply in await replies(agencies, SCHOOL, 3)}
    first, again, different = answers["school-1"], answers["school-2"], answers["school-3"]
    assert (first.outcome, first.detail, first.message_id) == ("accepted", "raised", "school-1")
    assert (again.outcome, again.detail, again.message_id) == (
        "accepted",
        "already raised",
        "school-2",
    )
    assert different.outcome is IntakeOutcome.REJECTED
    assert different.reasons == [
        f"request id {message.request_id} was already used for a different request; choose a new id"
    ]
    assert await recorded(store, message.request_id, until="ShareRequestRaised") == [
        "ShareRequestRaised"
    ]
    workflows = [w async for w in client.list_workflows(f"WorkflowId = '{message.request_id}'")]
    assert len(workflows) == 1


async def test_an_id_another_agency_raised_is_rejected_never_accepted(
    intake: BusIntake, agencies: JetStreamContext, store: PostgresEventStore, client: Client
) -> None:
    """The police pre-claim the school's next request id: the school is told, not misled."""
    message = raise_message()
    squatted = message.model_copy(
        update={"submission": message.submission.model_copy(update={"raised_by": "dc-harris"})}
    )
    assert await send(agencies, requests_subject(POLICE), squatted, message_id="police-1")
    [theirs] = await replies(agencies, POLICE, 1)
    assert (theirs.outcome, theirs.detail) == ("accepted", "raised")
    # The school's raise with that id, and the very same body the police sent; and a
    # raise of the school's own with a fresh id.
    own = raise_message()
    assert await send(agencies, requests_subject(SCHOOL), message, message_id="school-1")
    assert await send(agencies, requests_subject(SCHOOL), squatted, message_id="school-2")
    assert await send(agencies, requests_subject(SCHOOL), own, message_id="school-3")

    answers = {reply.message_id: reply for reply in await replies(agencies, SCHOOL, 3)}
    for message_id in ("school-1", "school-2"):
        assert (answers[message_id].outcome, answers[message_id].reasons) == (
            IntakeOutcome.REJECTED,
            [taken(message.request_id)],
        )
    assert (answers["school-3"].outcome, answers["school-3"].detail) == ("accepted", "raised")
    [raised] = await store.read_stream(stream_id_for(message.request_id))
    assert (raised.type, raised.actor.agency) == ("ShareRequestRaised", POLICE)
    workflows = [w async for w in client.list_workflows(f"WorkflowId = '{message.request_id}'")]
    assert len(workflows) == 1

    # The school's id, once used, is refused to the police the same way.
    retry = own.model_copy(
        update={"submission": own.submission.model_copy(update={"raised_by": "dc-harris"})}
    )
    assert await send(agencies, requests_subject(POLICE), retry, message_id="police-2")
    refused = {reply.message_id: reply for reply in await replies(agencies, POLICE, 2)}["police-2"]
    assert (refused.outcome, refused.reasons) == (
        IntakeOutcome.REJECTED,
        [taken(own.request_id)],
    )
    assert await recorded(store, own.request_id, until="ShareRequestRaised") == [
        "ShareRequestRaised"
    ]
    [school_raised] = await store.read_stream(stream_id_for(own.request_id))
    assert school_raised.actor.agency == SCHOOL


def taken(request_id: uuid.UUID) -> str:
    return (
        f"request id {request_id} is already used by another agency's request; "
        "choose a new id (a random UUID)"
    )


async def test_unreadable_and_invalid_raises_are_answered_with_the_reason_and_record_nothing(
    intake: BusIntake,
    agencies: JetStreamContext,
    store: PostgresEventStore,
    client: Client,
    policy: DataSharingAgreement,
) -> None:
    not_json = b"raise: Amara, please"
    misshapen_id = uuid.uuid4()
    wrong_shape = {"request_id": str(misshapen_id), "submission": {"purpose": "early_help"}}
    to_a_non_signatory = raise_message(
        raise_request().model_copy(
            update={
                "recipients": (
                    RequestedInformation(agency="bright-futures-youth", categories=("exclusions",)),
                )
            }
        )
    )
    from_a_stranger = raise_message()
    from_a_non_signatory = raise_message()

    await send(agencies, requests_subject(SCHOOL), not_json, message_id="not-json")
    await send(
        agencies, requests_subject(SCHOOL), json.dumps(wrong_shape).encode(), message_id="shape"
    )
    await send(agencies, requests_subject(SCHOOL), to_a_non_signatory, message_id="recipient")
    await send(agencies, requests_subject("nowhere-borough-council"), from_a_stranger)
    await send(agencies, requests_subject("bright-futures-youth"), from_a_non_signatory)

    answers = {reply.message_id: reply for reply in await replies(agencies, SCHOOL, 3)}
    unreadable, misshapen, non_signatory = (answers[k] for k in ("not-json", "shape", "recipient"))
    [stranger] = await replies(agencies, "nowhere-borough-council", 1)
    [outsider] = await replies(agencies, "bright-futures-youth", 1)
    for reply in (unreadable, misshapen, non_signatory, stranger, outsider):
        assert reply.outcome is IntakeOutcome.REJECTED
        assert reply.reasons
    assert unreadable.request_id is None
    assert unreadable.reasons[0].startswith("the message is not valid JSON")
    assert misshapen.request_id == misshapen_id
    assert "submission.raised_by: Field required" in misshapen.reasons
    assert "submission.consent: Field required" in misshapen.reasons
    assert all(
        "Amara" not in reason for reply in (unreadable, misshapen) for reason in reply.reasons
    )
    assert non_signatory.request_id == to_a_non_signatory.request_id
    assert any("bright-futures-youth" in reason for reason in non_signatory.reasons)
    assert stranger.reasons == [
        "nowhere-borough-council is not a party to the data sharing agreement "
        f"{policy.id} v{policy.version}"
    ]
    assert outsider.reasons[0].startswith("bright-futures-youth is not a signatory")

    for message in (to_a_non_signatory, from_a_stranger, from_a_non_signatory):
        assert not await workflow_exists(client, message.request_id)
    assert await store.read_all() == []

    # A subject that is neither requests nor acknowledgements is refused at publishing.
    with pytest.raises(NoStreamResponseError):
        await agencies.publish(f"sharehub.intake.{SCHOOL}.request", b"{}")


# --- acknowledging --------------------------------------------------------------------


async def test_an_acknowledgement_on_the_bus_acknowledges_a_disclosure_to_that_agency_only(
    intake: BusIntake,
    agencies: JetStreamContext,
    service: ShareRequestService,
    store: PostgresEventStore,
    policy: DataSharingAgreement,
) -> None:
    request = raise_request()
    await service.raise_request(request)
    await service.act(
        request.request_id, Triage(actor=OFFICER, rag=RagRating.AMBER, rationale="Within 6 hours")
    )
    await service.act(
        request.request_id,
        RecordDecision(
            actor=MANAGER,
            outcome=DecisionOutcome.SHARE_PARTIAL,
            lawful_basis=LawfulBasis.PUBLIC_TASK,
            condition=ProcessingCondition.SAFEGUARDING_OF_CHILDREN,
            reasons="Police need the school picture for the strategy discussion.",
            shares=(
                Share(agency=POLICE, categories=POLICE_ASKED, purpose="safeguarding_strategy"),
            ),
            consent=ConsentStatus.GIVEN,
        ),
    )
    notice = await disclosure_notice(agencies, policy, POLICE, request.request_id)
    acknowledgement = IntakeAcknowledgement(
        request_id=request.request_id, disclosure_id=notice.notice_id, acknowledged_by="dc-harris"
    )

    # The GP practice tries to acknowledge the police's disclosure; then the police do, twice.
    await send(agencies, acknowledgements_subject(GP), acknowledgement)
    [refused] = await replies(agencies, GP, 1)
    await send(agencies, acknowledgements_subject(POLICE), acknowledgement, message_id="ack-1")
    await send(agencies, acknowledgements_subject(POLICE), acknowledgement, message_id="ack-2")
    answers = {reply.message_id: reply for reply in await replies(agencies, POLICE, 2)}

    assert refused.outcome is IntakeOutcome.REJECTED
    assert refused.reasons == [f"no disclosure {notice.notice_id} was sent to {GP}"]
    # Handled concurrently: either may be the one that acknowledged.
    assert sorted((a.outcome, a.detail) for a in answers.values()) == [
        ("accepted", "acknowledged"),
        ("accepted", "already acknowledged"),
    ]
    for answer in answers.values():
        assert (answer.request_id, answer.disclosure_id) == (request.request_id, notice.notice_id)
    types = await recorded(store, request.request_id, until="DisclosureAcknowledged")
    assert types.count("DisclosureAcknowledged") == 1
    [event] = [
        e
        for e in await store.read_stream(stream_id_for(request.request_id))
        if e.type == "DisclosureAcknowledged"
    ]
    assert event.data["disclosure_id"] == str(notice.notice_id)
    assert (event.actor.id, event.actor.agency) == ("dc-harris", POLICE)
    assert [d.acknowledged for d in await service.disclosures(request.request_id)] == [True]


async def test_an_acknowledgement_of_an_unknown_request_is_rejected(
    intake: BusIntake, agencies: JetStreamContext
) -> None:
    unknown = IntakeAcknowledgement(
        request_id=uuid.uuid4(), disclosure_id=uuid.uuid4(), acknowledged_by="dc-harris"
    )
    await send(agencies, acknowledgements_subject(POLICE), unknown)
    [reply] = await replies(agencies, POLICE, 1)
    assert reply.outcome is IntakeOutcome.REJECTED
    assert reply.reasons == [f"no share request {unknown.request_id}"]


# --- transient failures ---------------------------------------------------------------


class UnreachableService:
    """The service as seen while Temporal is down: every call fails, transiently."""

    def __init__(self, policy: DataSharingAgreement) -> None:
        self.policy = policy
        self.calls = 0

    async def raise_request(self, request: RaiseShareRequest) -> ActionResult:
        self.calls += 1
        raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")

    async def act(self, request_id: uuid.UUID, action: AcknowledgeDisclosure) -> ActionResult:
        raise AssertionError("not called here")

    async def disclosures(self, request_id: uuid.UUID) -> list[Disclosure]:
        raise AssertionError("not called here")


async def test_a_message_that_keeps_failing_is_redelivered_then_dead_lettered_and_answered(
    bus: str,
    agencies: JetStreamContext,
    client: Client,
    store: PostgresEventStore,
    policy: DataSharingAgreement,
) -> None:
    unreachable = UnreachableService(policy)
    message = raise_message()
    body = message.model_dump_json().encode()
    async with running_intake(
        unreachable, client, bus, store, max_deliver=3, first_redelivery_delay=0.05
    ):
        await send(agencies, requests_subject(SCHOOL), body, message_id="school-1")
        [reply] = await replies(agencies, SCHOOL, 1)
        subscription = await agencies.pull_subscribe(
            dead_letter_subject(SCHOOL), stream=DEAD_LETTERS_STREAM
        )
        [dead] = await subscription.fetch(1, timeout=WAIT)
        consumer = await agencies.consumer_info(INTAKE_STREAM, REQUESTS_CONSUMER)
        intake_state = (await agencies.stream_info(INTAKE_STREAM)).state

    assert unreachable.calls == 3
    assert reply.outcome is IntakeOutcome.REJECTED
    assert reply.request_id == message.request_id
    [reason] = reply.reasons
    assert reason.startswith("not processed after 3 deliveries (Temporal: UNAVAILABLE")
    # The body is not kept (it may name a child): its ids and what happened are.
    letter = DeadLetter.model_validate_json(dead.data)
    assert body not in dead.data and CHILD_NAME.encode() not in dead.data
    assert letter.request_id == message.request_id and letter.deliveries == 3
    assert letter.intake_subject == requests_subject(SCHOOL) and letter.message_id == "school-1"
    assert dead.headers is not None
    assert dead.headers[DEAD_LETTER_DELIVERIES] == "3"
    assert dead.headers[DEAD_LETTER_SUBJECT] == requests_subject(SCHOOL)
    assert dead.headers[DEAD_LETTER_SEQUENCE] == str(reply.intake_sequence)
    assert dead.headers[DEAD_LETTER_REASON] == "Temporal: UNAVAILABLE connection refused"
    # Answered and acknowledged: nothing pending, and the intake stream let it go.
    assert (consumer.num_pending, consumer.num_ack_pending, consumer.num_redelivered) == (0, 0, 0)
    assert intake_state.messages == 0
