"""ShareRequestWorkflow on a time-skipping Temporal server with the real event store."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import WorkflowUpdateFailedError

from events.postgres import PostgresEventStore
from events.share_requests import share_request_events, stream_id_for
from events.verify import verify_chain
from tests.workflows.conftest import HubWorker
from tests.workflows.scenario import (
    ADVISOR,
    CHILD_NAME,
    GP,
    MANAGER,
    OFFICER,
    POLICE,
    POLICE_ASKED,
    SCHOOL_DSL,
    SECOND_MANAGER,
    share_all,
    start,
)
from workflows.models import (
    AcknowledgeDisclosure,
    Close,
    Disclosure,
    FamilyStepKind,
    GiveAdvice,
    RecordDecision,
    RecordFamilyStep,
    SeekAdvice,
    Share,
    SignOff,
    Stage,
    StartShareRequest,
    Triage,
    Withdraw,
)
from workflows.policy import (
    ConsentStatus,
    DataSharingAgreement,
    DecisionOutcome,
    LawfulBasis,
    ProcessingCondition,
    RagRating,
)
from workflows.share_request import ShareRequestWorkflow


async def raised(store: PostgresEventStore, start_input: StartShareRequest) -> None:
    """Wait until the workflow has recorded the raise (its first activity)."""
    for _ in range(200):
        if await event_types(store, start_input):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the raise was never recorded")


async def event_types(store: PostgresEventStore, start_input: StartShareRequest) -> list[str]:
    events = await store.read_stream(stream_id_for(start_input.request.request_id))
    return [event.type for event in events]


def decision(**changes: object) -> RecordDecision:
    base = RecordDecision(
        actor=MANAGER,
        outcome=DecisionOutcome.SHARE,
        lawful_basis=LawfulBasis.PUBLIC_TASK,
        condition=ProcessingCondition.SAFEGUARDING_OF_CHILDREN,
        reasons="Repeated missing episodes; police need the school and GP picture.",
        shares=share_all(),
        consent=ConsentStatus.GIVEN,
        caveats=("Do not approach the parents before the strategy discussion",),
    )
    return base.model_copy(update=changes)


async def test_a_request_shared_with_consent_runs_to_closure(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await handle.execute_update(
        ShareRequestWorkflow.triage,
        Triage(actor=OFFICER, rag=RagRating.AMBER, rationale="Missing episodes, no current harm"),
    )
    result = await handle.execute_update(ShareRequestWorkflow.decide, decision())
    assert result.stage is Stage.DISCLOSING  # a manager, with consent: no second sign-off
    # The workflow sends one disclosure per recipient, then the referrer hears the outcome.
    disclosures: list[Disclosure] = []
    while len(disclosures) < 2:
        disclosures = await handle.query(ShareRequestWorkflow.disclosures)
    for disclosure, person in zip(
        sorted(disclosures, key=lambda d: d.agency), (POLICE, GP), strict=True
    ):
        await handle.execute_update(
            ShareRequestWorkflow.acknowledge_disclosure,
            AcknowledgeDisclosure(actor=person, disclosure_id=disclosure.disclosure_id),
        )
    await handle.execute_update(
        ShareRequestWorkflow.record_family_step,
        RecordFamilyStep(actor=OFFICER, kind=FamilyStepKind.NOTIFIED),
    )
    await handle.execute_update(ShareRequestWorkflow.close, Close(actor=OFFICER))
    await handle.result()

    assert await event_types(store, start_input) == [
        "ShareRequestRaised",
        "TriageRecorded",
        "DecisionRecorded",
        "ReferrerToldOutcome",
        "DisclosureSent",
        "DisclosureSent",
        "DisclosureAcknowledged",
        "DisclosureAcknowledged",
        "FamilyStepRecorded",
        "ShareRequestClosed",
    ]
    subjects = sorted(subject for subject, _, _ in hub.publisher.published)
    assert subjects == [
        "sharehub.agency.met-police.disclosures",
        "sharehub.agency.riverside-medical-practice.disclosures",
        "sharehub.agency.st-aldhelms-primary.disclosures",
    ]
    for _, _, body in hub.publisher.published:
        assert CHILD_NAME.encode() not in body and b"Okafor" not in body
    assert (await verify_chain(store)).intact


async def test_each_recipient_is_sent_only_what_was_decided_for_it(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await handle.execute_update(
        ShareRequestWorkflow.triage, Triage(actor=OFFICER, rag=RagRating.RED, rationale="Urgent")
    )
    partial = (
        Share(agency="met-police", categories=POLICE_ASKED[:1], purpose="safeguarding_strategy"),
    )
    await handle.execute_update(
        ShareRequestWorkflow.decide,
        decision(outcome=DecisionOutcome.SHARE_PARTIAL, shares=partial),
    )
    disclosures: list[Disclosure] = []
    while not disclosures:
        disclosures = await handle.query(ShareRequestWorkflow.disclosures)
    [sent] = [
        share_request_events.decode(e)
        for e in await store.read_stream(stream_id_for(start_input.request.request_id))
        if e.type == "DisclosureSent"
    ]
    assert sent.agency == "met-police"  # type: ignore[attr-defined]
    assert sent.categories == ["social_care_involvement"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("update", "action", "message"),
    [
        ("decide", decision(), "needs a triaged request"),
        ("triage", Triage(actor=SCHOOL_DSL, rag=RagRating.RED, rationale="x" * 5), "only a hub"),
        (
            "give_advice",
            GiveAdvice(actor=ADVISOR, advice_id=uuid.uuid4(), advice="Share it"),
            "no advice",
        ),
        ("sign_off", SignOff(actor=MANAGER), "nothing awaits a sign-off"),
        ("close", Close(actor=OFFICER), "closes after its decision"),
        ("withdraw", Withdraw(actor=POLICE, reason="Not ours to withdraw"), "referring agency"),
    ],
)
async def test_out_of_order_or_unpermitted_actions_are_rejected_and_write_nothing(
    hub: HubWorker,
    store: PostgresEventStore,
    policy: DataSharingAgreement,
    update: str,
    action: object,
    message: str,
) -> None:
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await raised(store, start_input)
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await handle.execute_update(update, action)
    assert message in str(rejected.value.cause)
    assert await event_types(store, start_input) == ["ShareRequestRaised"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"outcome": DecisionOutcome.DECLINE}, "a decision to decline shares nothing"),
        ({"outcome": DecisionOutcome.DECLINE, "shares": ()}, "s16LA"),
        (
            {
                "shares": (
                    Share(
                        agency="wandlebury-housing",
                        categories=("housing_tenancy",),
                        purpose="safeguarding_strategy",
                    ),
                )
            },
            "not asked for",
        ),
        ({"outcome": DecisionOutcome.SHARE_PARTIAL}, "share_partial must leave out"),
        ({"consent": ConsentStatus.NOT_SOUGHT}, "consent_note"),
        ({"actor": ADVISOR}, "only a hub"),
    ],
)
async def test_decisions_that_break_a_rule_are_rejected_and_write_nothing(
    hub: HubWorker,
    store: PostgresEventStore,
    policy: DataSharingAgreement,
    changes: dict[str, object],
    message: str,
) -> None:
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await handle.execute_update(
        ShareRequestWorkflow.triage, Triage(actor=OFFICER, rag=RagRating.GREEN, rationale="Routine")
    )
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await handle.execute_update(ShareRequestWorkflow.decide, decision(**changes))
    assert message in str(rejected.value.cause)
    assert await event_types(store, start_input) == ["ShareRequestRaised", "TriageRecorded"]


async def test_sharing_without_consent_needs_another_managers_sign_off(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await handle.execute_update(
        ShareRequestWorkflow.triage, Triage(actor=OFFICER, rag=RagRating.AMBER, rationale="Risk")
    )
    result = await handle.execute_update(
        ShareRequestWorkflow.decide,
        decision(
            consent=ConsentStatus.NOT_SOUGHT, consent_note="Seeking it could place her at risk"
        ),
    )
    assert result.stage is Stage.AWAITING_SIGN_OFF
    with pytest.raises(WorkflowUpdateFailedError) as same_person:
        await handle.execute_update(ShareRequestWorkflow.sign_off, SignOff(actor=MANAGER))
    assert "other than the decider" in str(same_person.value.cause)
    with pytest.raises(WorkflowUpdateFailedError) as officer:
        await handle.execute_update(ShareRequestWorkflow.sign_off, SignOff(actor=OFFICER))
    assert "hub manager" in str(officer.value.cause)
    signed = await handle.execute_update(
        ShareRequestWorkflow.sign_off, SignOff(actor=SECOND_MANAGER)
    )
    assert signed.stage is Stage.DISCLOSING
    types = await event_types(store, start_input)
    assert types[:4] == [
        "ShareRequestRaised",
        "TriageRecorded",
        "DecisionRecorded",
        "DecisionSignedOff",
    ]


async def test_advice_is_sought_without_revealing_who_the_child_is(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await handle.execute_update(
        ShareRequestWorkflow.seek_advice,
        SeekAdvice(actor=OFFICER, question="Is consent needed before we share with police?"),
    )
    [advice] = await handle.query(ShareRequestWorkflow.advice_requests)
    packet = advice.packet.model_dump_json()
    for secret in (
        "Amara",
        "Okafor",
        "9434765919",
        "943 476 5919",
        "2016-03-02",
        "Ravensbury",
        "SW18 4RL",
    ):
        assert secret not in packet
    assert "SW18" in packet
    await handle.execute_update(
        ShareRequestWorkflow.give_advice,
        GiveAdvice(actor=ADVISOR, advice_id=advice.advice_id, advice="Share under public task"),
    )
    with pytest.raises(WorkflowUpdateFailedError) as twice:
        await handle.execute_update(
            ShareRequestWorkflow.give_advice,
            GiveAdvice(actor=ADVISOR, advice_id=advice.advice_id, advice="Again, share it"),
        )
    assert "already been given" in str(twice.value.cause)
    assert await event_types(store, start_input) == [
        "ShareRequestRaised",
        "AdviceSought",
        "AdviceGiven",
    ]


async def test_the_referrer_may_withdraw_before_the_decision(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await handle.execute_update(
        ShareRequestWorkflow.withdraw, Withdraw(actor=SCHOOL_DSL, reason="Raised in error")
    )
    await handle.result()
    assert await event_types(store, start_input) == ["ShareRequestRaised", "ShareRequestWithdrawn"]


async def test_personal_data_is_encrypted_in_the_store(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement, database_url: str
) -> None:
    import asyncpg

    start_input = start(policy)
    handle = await hub.begin(start_input)
    await handle.execute_update(
        ShareRequestWorkflow.withdraw, Withdraw(actor=OFFICER, reason="Duplicate of another")
    )
    await handle.result()
    owner = await asyncpg.connect(database_url)
    try:
        raw = await owner.fetchval("SELECT string_agg(data::text, ' ') FROM events")
    finally:
        await owner.close()
    assert "Okafor" not in raw and "9434765919" not in raw
    [raised, _] = await store.read_stream(stream_id_for(start_input.request.request_id))
    assert raised.data["details"]["people"][0]["family_name"] == "Okafor"


async def test_temporal_history_holds_no_plaintext_personal_data(
    hub: HubWorker, policy: DataSharingAgreement
) -> None:
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await handle.execute_update(
        ShareRequestWorkflow.seek_advice, SeekAdvice(actor=OFFICER, question="Consent needed?")
    )
    await handle.execute_update(
        ShareRequestWorkflow.withdraw, Withdraw(actor=OFFICER, reason="Duplicate request")
    )
    await handle.result()
    # The raw history proto, payloads as the server stores them (JSON would
    # base64 them and hide plaintext from a substring search).
    history = b"".join(event.SerializeToString() for event in (await handle.fetch_history()).events)
    assert b"binary/encrypted" in history
    for secret in (b"Amara", b"Okafor", b"9434765919", b"Ravensbury", b"SW18 4RL"):
        assert secret not in history


async def test_two_decisions_at_once_record_exactly_one(
    hub: HubWorker, store: PostgresEventStore, policy: DataSharingAgreement
) -> None:
    start_input = start(policy)
    handle = await hub.begin(start_input)
    await handle.execute_update(
        ShareRequestWorkflow.triage, Triage(actor=OFFICER, rag=RagRating.GREEN, rationale="Low")
    )
    results = await asyncio.gather(
        handle.execute_update(ShareRequestWorkflow.decide, decision()),
        handle.execute_update(ShareRequestWorkflow.decide, decision(reasons="A second view")),
        return_exceptions=True,
    )
    assert sum(isinstance(r, WorkflowUpdateFailedError) for r in results) == 1
    assert (await event_types(store, start_input)).count("DecisionRecorded") == 1
