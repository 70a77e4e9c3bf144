"""The Temporal payload codec: encrypted on the way in, plain again on the way out,
nothing readable in Temporal's own history, and nothing accepted that sharehub did not send."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from tests.events.conftest import MASTER_KEY
from workers.temporal.client import data_converter
from workers.temporal.codec import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA,
    REFUSAL_METADATA,
    EncryptionCodec,
    PayloadRefused,
    derive_payload_key,
    is_refused,
    key_id_of,
)

CHILD_NAME = "Amara Okafor"
OTHER_MASTER_KEY = bytes(range(1, 33))


def json_payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


# --- the codec alone ------------------------------------------------------------------


async def test_payloads_round_trip_whole_metadata_included() -> None:
    codec = EncryptionCodec.for_master_key(MASTER_KEY)
    original = [json_payload(CHILD_NAME), Payload(metadata={"encoding": b"binary/null"})]

    encoded = await codec.encode(original)

    assert await codec.decode(encoded) == original
    for payload in encoded:
        assert CHILD_NAME.encode() not in payload.SerializeToString()
        assert b"json/plain" not in payload.SerializeToString()  # the type is hidden too


async def test_encoded_payloads_carry_the_key_id_and_nothing_else() -> None:
    codec = EncryptionCodec.for_master_key(MASTER_KEY)

    [encoded] = await codec.encode([json_payload(CHILD_NAME)])

    assert dict(encoded.metadata) == {
        "encoding": ENCRYPTED_ENCODING,
        KEY_ID_METADATA: codec.key_id.encode(),
    }
    assert codec.key_id == key_id_of(derive_payload_key(MASTER_KEY))
    assert len(codec.key_id) == 16 and int(codec.key_id, 16) >= 0


async def test_every_process_of_a_deployment_derives_the_same_key() -> None:
    writer = EncryptionCodec.for_master_key(MASTER_KEY)
    reader = EncryptionCodec.for_master_key(MASTER_KEY)
    first, second = await writer.encode([json_payload("x"), json_payload("x")])

    assert first.data != second.data  # a fresh nonce each time
    assert await reader.decode([first, second]) == [json_payload("x"), json_payload("x")]
    assert derive_payload_key(MASTER_KEY) != MASTER_KEY  # never the master key itself


async def refusal_of(codec: EncryptionCodec, payload: Payload) -> str:
    """Why ``codec`` refuses ``payload``: decode leaves a marker holding only the reason."""
    [decoded] = await codec.decode([payload])
    assert is_refused(decoded), f"{payload} was accepted"
    assert decoded.data == b""
    assert set(decoded.metadata) == {"encoding", REFUSAL_METADATA}
    return decoded.metadata[REFUSAL_METADATA].decode()


async def test_plain_payloads_are_refused_without_repeating_them() -> None:
    codec = EncryptionCodec.for_master_key(MASTER_KEY)

    for plain in (json_payload(CHILD_NAME), Payload(), Payload(metadata={"encoding": b"x"})):
        assert await refusal_of(codec, plain) == "it is not encrypted"


async def test_tampered_ciphertext_is_refused() -> None:
    codec = EncryptionCodec.for_master_key(MASTER_KEY)
    [encoded] = await codec.encode([json_payload(CHILD_NAME)])
    flipped = bytearray(encoded.data)
    flipped[-1] ^= 0x01

    for data in (bytes(flipped), encoded.data[:20], encoded.data[:5], b""):
        tampered = Payload(metadata=encoded.metadata, data=data)
        reason = await refusal_of(codec, tampered)
        assert reason == (
            f"it failed authentication under key id {codec.key_id}: altered or truncated"
        )


async def test_a_payload_of_another_deployment_is_refused() -> None:
    ours = EncryptionCodec.for_master_key(MASTER_KEY)
    theirs = EncryptionCodec.for_master_key(OTHER_MASTER_KEY)
    [foreign] = await theirs.encode([json_payload(CHILD_NAME)])

    assert await refusal_of(ours, foreign) == (
        f"it is encrypted under key id {theirs.key_id}, which is not this deployment's"
    )


async def test_a_key_id_chosen_by_the_sender_is_not_repeated_unless_it_looks_like_one() -> None:
    codec = EncryptionCodec.for_master_key(MASTER_KEY)
    forged = Payload(
        metadata={"encoding": ENCRYPTED_ENCODING, KEY_ID_METADATA: b"\n2024 admin signed"},
        data=b"x" * 40,
    )

    assert "(unreadable)" in await refusal_of(codec, forged)


async def test_payloads_under_a_still_accepted_old_key_open() -> None:
    old = EncryptionCodec.for_master_key(OTHER_MASTER_KEY)
    rotating = EncryptionCodec.for_master_key(MASTER_KEY, old_master_keys=[OTHER_MASTER_KEY])
    [written_before] = await old.encode([json_payload(CHILD_NAME)])

    assert await rotating.decode([written_before]) == [json_payload(CHILD_NAME)]
    [written_now] = await rotating.encode([json_payload("x")])
    assert written_now.metadata[KEY_ID_METADATA] == rotating.key_id.encode()  # the new key
    assert rotating.accepted_key_ids == {old.key_id, rotating.key_id}
    assert is_refused((await old.decode([written_now]))[0])  # the old deployment: not back


async def test_the_data_converter_raises_a_non_retryable_refusal_for_a_refused_payload() -> None:
    converter = data_converter(MASTER_KEY)
    theirs = data_converter(OTHER_MASTER_KEY)
    referral = ChildReferral(child_name=CHILD_NAME, concern="not collected from school")

    for payloads in (
        await pydantic_data_converter.encode([referral]),  # plaintext, as the CLI sends
        await theirs.encode([referral]),
    ):
        with pytest.raises(PayloadRefused) as raised:
            await converter.decode(payloads, [ChildReferral])
        assert raised.value.non_retryable
        assert raised.value.type == "PayloadRefused"
        assert "Okafor" not in str(raised.value)


def test_keys_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        EncryptionCodec.for_master_key(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        EncryptionCodec(b"short")


async def test_the_data_converter_round_trips_pydantic_models() -> None:
    converter = data_converter(MASTER_KEY)
    referral = ChildReferral(child_name=CHILD_NAME, concern="not collected from school")

    payloads = await converter.encode([referral])

    assert CHILD_NAME.encode() not in b"".join(p.SerializeToString() for p in payloads)
    assert await converter.decode(payloads, [ChildReferral]) == [referral]


# --- through a real Temporal server ---------------------------------------------------


class ChildReferral(BaseModel):
    child_name: str
    concern: str


class ReferralSummary(BaseModel):
    line: str


@activity.defn
async def summarise_referral(referral: ChildReferral) -> ReferralSummary:
    if referral.concern == "refuse":
        raise ApplicationError(f"no consent recorded for {referral.child_name}", non_retryable=True)
    return ReferralSummary(line=f"{referral.child_name}: {referral.concern}")


@workflow.defn
class SummariseReferralWorkflow:
    @workflow.run
    async def run(self, referral: ChildReferral) -> ReferralSummary:
        return await workflow.execute_activity(
            summarise_referral, referral, start_to_close_timeout=timedelta(seconds=10)
        )


async def raw_history(client: Client, workflow_id: str) -> bytes:
    """Everything Temporal keeps about the workflow, as a client without the key sees it."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return history.to_json().encode() + History(events=history.events).SerializeToString()


async def run_referral(temporal_address: str, referral: ChildReferral) -> tuple[str, object]:
    """Start the workflow with the codec on client and worker; its id and result or error."""
    client = await Client.connect(temporal_address, data_converter=data_converter(MASTER_KEY))
    task_queue = f"codec-test-{uuid.uuid4()}"
    workflow_id = f"referral-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[SummariseReferralWorkflow],
        activities=[summarise_referral],
        # A test-local workflow: the sandbox would re-import this test module.
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        try:
            outcome: object = await client.execute_workflow(
                SummariseReferralWorkflow.run,
                referral,
                id=workflow_id,
                task_queue=task_queue,
                execution_timeout=timedelta(seconds=30),
            )
        except WorkflowFailureError as error:
            outcome = error
    return workflow_id, outcome


async def test_temporal_history_holds_no_plaintext(temporal_address: str) -> None:
    referral = ChildReferral(child_name=CHILD_NAME, concern="not collected from school")

    workflow_id, result = await run_referral(temporal_address, referral)

    assert result == ReferralSummary(line=f"{CHILD_NAME}: not collected from school")
    without_codec = await Client.connect(temporal_address)
    raw = await raw_history(without_codec, workflow_id)
    for secret in (CHILD_NAME, "Amara", "Okafor", "collected from school"):
        assert secret.encode() not in raw
    assert EncryptionCodec.for_master_key(MASTER_KEY).key_id.encode() in raw
    # And the client without the key cannot read the result.
    with pytest.raises(Exception, match="binary/encrypted"):
        await without_codec.get_workflow_handle(workflow_id).result()


async def test_failure_messages_are_encrypted_too(temporal_address: str) -> None:
    referral = ChildReferral(child_name=CHILD_NAME, concern="refuse")

    workflow_id, outcome = await run_referral(temporal_address, referral)

    assert isinstance(outcome, WorkflowFailureError)
    cause = outcome.cause.__cause__ if outcome.cause else None
    assert isinstance(cause, ApplicationError)
    assert cause.message == f"no consent recorded for {CHILD_NAME}"
    raw = await raw_history(await Client.connect(temporal_address), workflow_id)
    assert b"Okafor" not in raw
