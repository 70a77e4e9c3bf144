"""The auditor's toolkit on requests run by the real workflow, read over the HTTP API.

Replay to a moment, signed checkpoints (kept in PostgreSQL and copied to
JetStream) with inclusion proofs, the decision report in its three formats, and
retention: each checked against the event store itself.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import nats
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fhir.resources.bundle import Bundle
from pydantic import TypeAdapter

from events.access import RecordViewed, access_log_stream
from events.envelope import Actor, RecordedEvent
from events.merkle import leaf_hash, verify_inclusion
from events.read_models.replay import replay_request
from events.retention import SubjectShredded, retention_ends, retention_stream, run_retention
from events.share_requests import stream_id_for, subject_id_for
from events.signed_checkpoints import CheckpointSigner
from events.verify import verify_log
from tests.events.test_signed_checkpoints import sign_now
from tests.workers.api.conftest import Api, eventually
from tests.workers.api.journey import act, expect, raise_one, to_disclosure
from workers.audit.checkpointer import CheckpointCopies, Checkpointer
from workers.audit.keys import public_key, signing_key
from workers.settings import Settings
from workflows.policy import DataSharingAgreement

AS_JSON = TypeAdapter(dict[str, Any] | None)
EVER = {"from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
RETENTION_ACTOR = Actor(id="retention-test", role="admin")


async def closed_journey(api: Api) -> UUID:
    """Raised, triaged, advised, decided in part, signed off, acknowledged, closed."""
    journey = await to_disclosure(api)
    c = api.callers
    expect(
        await api.http.post(
            f"/v1/disclosures/{journey.disclosure_id}/acknowledgement", headers=c.police.headers
        ),
        200,
    )
    await act(api, c.officer, journey.request_id, "family-step", {"kind": "notified"})

    async def close() -> int:
        url = f"/v1/hub/share-requests/{journey.request_id}/closure"
        response = await api.http.post(url, headers=c.officer.headers)
        return response.status_code

    assert await eventually(close, lambda status: status == 200) == 200
    await api.quiet()
    return journey.request_id


async def sign_checkpoint(api: Api, settings: Settings) -> None:
    """What the relay's checkpointer does, with the stack's own key and bus."""
    client = await nats.connect(
        settings.resolved_nats_url(), nkeys_seed_str=settings.nats_service_seed()
    )
    try:
        copies = CheckpointCopies(client.jetstream(), stream=settings.checkpoint_stream)
        checkpointer = Checkpointer(
            api.store,
            CheckpointSigner(signing_key(settings)),
            copies,
            every_events=1,
            every_seconds=1.0,
        )
        await checkpointer.start()
        assert await checkpointer.turn() is not None
    finally:
        await client.close()


async def test_replay_at_any_moment_between_two_events_is_the_state_of_the_events_before(
    api: Api,
) -> None:
    request_id = await closed_journey(api)
    events = await api.store.read_stream(stream_id_for(request_id))
    auditor = api.callers.auditor.headers
    moments = 0
    for before, after in itertools.pairwise(events):
        if before.recorded_at == after.recorded_at:
            continue  # recorded in one transaction: there is no moment between them
        moments += 1
        between = before.recorded_at + (after.recorded_at - before.recorded_at) / 2
        then = expect(
            await api.http.get(
                f"/v1/audit/share-requests/{request_id}/state",
                params={"at": between.isoformat()},
                headers=auditor,
            ),
            200,
        )
        expected = replay_request(events[: events.index(before) + 1])
        assert then["events_applied"] == expected.events_applied
        recorded = AS_JSON.dump_python(expected.request, mode="json")
        # As recorded, and beside each "who", the name it shows.
        assert {k: v for k, v in then["request"].items() if k in recorded} == recorded
        assert set(then["request"]) - set(recorded) == {"decided_by_name", "signed_off_by_name"}
        assert len(then["timeline"]) == expected.events_applied
        assert then["events_after"] == len(events) - expected.events_applied
    assert moments >= 8
    # Just before its decision, the request was undecided.
    decision = next(e for e in events if e.type == "DecisionRecorded")
    then = expect(
        await api.http.get(
            f"/v1/audit/share-requests/{request_id}/state",
            params={"at": (decision.recorded_at - timedelta(microseconds=1)).isoformat()},
            headers=auditor,
        ),
        200,
    )
    assert then["request"]["outcome"] is None and then["request"]["decided_by"] is None
    assert then["timeline"][-1]["type"] == "AdviceGiven"
    shown = json.dumps(then)  # the replay holds no personal data
    assert [w for w in ("Amara", "Okafor", "9434765919", "943 476 5919") if w in shown] == []
    # Now: the client ids recorded, the clients' names beside them, from the log alone.
    now = expect(
        await api.http.get(f"/v1/audit/share-requests/{request_id}/state", headers=auditor), 200
    )
    c = api.callers
    assert (now["request"]["decided_by"], now["request"]["decided_by_name"]) == (
        c.manager.actor_id,
        "manager-aziz",
    )
    assert now["request"]["signed_off_by_name"] == "manager-lowe"
    [disclosure] = now["disclosures"]
    assert (disclosure["acknowledged_by"], disclosure["acknowledged_by_name"]) == (
        c.police.actor_id,
        "dc-harris",
    )
    decided = next(e for e in now["timeline"] if e["type"] == "DecisionRecorded")
    assert (decided["actor"]["id"], decided["actor"]["name"]) == (
        c.manager.actor_id,
        "manager-aziz",
    )


async def test_checkpoints_proofs_and_verification_over_the_api(
    api: Api, settings: Settings
) -> None:
    request_id = await closed_journey(api)
    auditor = api.callers.auditor.headers
    await sign_checkpoint(api, settings)
    verdict = expect(await api.http.get("/v1/audit/verification", headers=auditor), 200)
    assert verdict["intact"] is True
    assert verdict["checkpoints_checked"] == 1
    assert verdict["bus_copy"] == "1 checkpoints compared"
    latest = verdict["latest_checkpoint"]
    assert latest["tree_size"] == verdict["events_checked"]
    listed = expect(await api.http.get("/v1/audit/checkpoints", headers=auditor), 200)
    assert listed["items"] == [latest]

    # An auditor holding only the checkpoint and the public key can check a proof.
    decision = next(
        e
        for e in await api.store.read_stream(stream_id_for(request_id))
        if e.type == "DecisionRecorded"
    )
    proof = expect(
        await api.http.get(
            f"/v1/audit/events/{decision.event_id}/inclusion-proof", headers=auditor
        ),
        200,
    )
    assert proof["verifies"] is True
    assert verify_inclusion(
        leaf_hash(bytes.fromhex(proof["event_hash"])),
        proof["leaf_index"],
        latest["tree_size"],
        [bytes.fromhex(h) for h in proof["audit_path"]],
        bytes.fromhex(latest["root_hash"]),
    )
    public_key(settings).verify(
        bytes.fromhex(latest["signature"]), latest["statement"].encode()
    )  # raises if it does not verify
    # An event recorded after the checkpoint has no proof yet, and says why.
    newer = await raise_one(api)
    await api.quiet()
    [raised] = await api.store.read_stream(stream_id_for(newer))
    late = await api.http.get(
        f"/v1/audit/events/{raised.event_id}/inclusion-proof", headers=auditor
    )
    assert late.status_code == 409
    assert late.json()["type"] == "urn:sharehub:problem:not-yet-checkpointed"


async def test_signed_checkpoints_without_the_public_key_fail_the_verification(
    api: Api,
) -> None:
    await raise_one(api)
    head = await api.quiet()
    # Signed with a key whose public half this deployment does not have.
    checkpoint = await sign_now(api.store, CheckpointSigner(Ed25519PrivateKey.generate()))
    verdict = expect(
        await api.http.get("/v1/audit/verification", headers=api.callers.auditor.headers), 200
    )
    assert verdict["intact"] is False
    assert verdict["first_break"] is None and verdict["events_checked"] >= head
    assert verdict["checkpoints_checked"] == 0 and verdict["latest_checkpoint"] is None
    failure = verdict["checkpoint_failure"]
    assert failure["tree_size"] == checkpoint.tree_size
    assert failure["reason"].startswith(
        "the signed checkpoints cannot be checked: no checkpoint public key at"
    )
    assert verdict["bus_copy"].startswith("not compared: checkpoints not checked (")


async def test_the_decision_report_in_csv_json_and_fhir(api: Api) -> None:
    request_id = await closed_journey(api)
    auditor = api.callers.auditor.headers
    response = await api.http.get("/v1/audit/report", params=EVER, headers=auditor)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    [row] = rows  # one decision, one row
    assert row["request_id"] == str(request_id)
    assert row["outcome"] == "share_partial"
    # The recorded actors are the clients' ids; their names stand beside them.
    assert (row["decided_by"], row["decided_by_name"]) == (
        api.callers.manager.actor_id,
        "manager-aziz",
    )
    assert (row["signed_off_by"], row["signed_off_by_name"]) == (
        api.callers.second_manager.actor_id,
        "manager-lowe",
    )
    assert "met-police" in row["shares"] and row["family_step"] == "notified"
    assert row["sla_met"] in ("yes", "no")

    as_json = expect(
        await api.http.get(
            "/v1/audit/report",
            params={**EVER, "format": "json", "access_log": "true"},
            headers=auditor,
        ),
        200,
    )
    assert [d["request_id"] for d in as_json["decisions"]] == [str(request_id)]
    assert as_json["access_log"]  # the officer's and police's reads, at least
    [decision] = as_json["decisions"]
    assert decision["decided_by"]["id"] == api.callers.manager.actor_id
    assert decision["decided_by_name"] == "manager-aziz"
    fhir = await api.http.get(
        "/v1/audit/report", params={**EVER, "format": "fhir"}, headers=auditor
    )
    assert fhir.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate_json(fhir.content)
    kinds = sorted(
        entry.resource.__resource_type__ for entry in bundle.entry or [] if entry.resource
    )
    assert kinds == ["AuditEvent", "Provenance"]

    # Reporting reads who each child is: it is on the request's access log.
    log = await api.store.read_stream(f"access-log-{request_id}")
    assert (api.callers.auditor.actor_id, "decision_report") in {
        (e.actor.id, e.data["record"]) for e in log
    }
    refused = await api.http.get(
        "/v1/audit/report", params={**EVER, "access_log": "true"}, headers=auditor
    )
    assert refused.status_code == 422  # csv is one row per decision: no second table in it


async def test_events_through_the_api_carry_the_client_id_and_older_names_read_as_recorded(
    api: Api,
) -> None:
    request_id = await closed_journey(api)
    c = api.callers
    events = await api.store.read_stream(stream_id_for(request_id))
    actors = {e.type: e.actor for e in events}
    assert actors["DecisionRecorded"].id == c.manager.actor_id
    assert actors["DecisionSignedOff"].id == c.second_manager.actor_id
    assert actors["DisclosureAcknowledged"].id == c.police.actor_id
    # A read recorded before clients' ids were: its actor id is the client's name.
    old_read = RecordViewed(
        request_id=request_id, record="share_request", record_id=request_id, via="GET /v1/hub"
    )
    await api.store.append(
        access_log_stream(request_id),
        [old_read.to_new_event(actor=Actor(id="officer-reid", role="hub_officer"))],
        expected_version=None,
    )

    # Views for people show the names; the timeline keeps the recorded id beside it.
    full = expect(
        await api.http.get(f"/v1/hub/share-requests/{request_id}", headers=c.officer.headers), 200
    )
    assert (full["decided_by"], full["signed_off_by"]) == ("manager-aziz", "manager-lowe")
    acknowledged = next(e for e in full["timeline"] if e["type"] == "DisclosureAcknowledged")
    assert acknowledged["actor"] == {
        "id": c.police.actor_id,
        "name": "dc-harris",
        "role": "agency",
        "agency": "met-police",
    }

    report = expect(
        await api.http.get(
            "/v1/audit/report",
            params={**EVER, "format": "json", "access_log": "true"},
            headers=c.auditor.headers,
        ),
        200,
    )

    views = {(v["viewer_id"], v["viewer_name"], v["via"]) for v in report["access_log"]}
    assert ("officer-reid", "officer-reid", "GET /v1/hub") in views  # as recorded
    assert (
        c.officer.actor_id,
        "officer-reid",
        "GET /v1/hub/share-requests/{request_id}",
    ) in views
    received = expect(await api.http.get("/v1/disclosures", headers=c.police.headers), 200)
    assert [d["acknowledged_by"] for d in received["items"]] == ["dc-harris"]


async def test_retention_shreds_exactly_the_due_subjects_and_the_log_still_verifies(
    api: Api, policy: DataSharingAgreement
) -> None:
    closed = await closed_journey(api)
    withdrawn_first = await withdrawn_request(api)
    withdrawn_later = await withdrawn_request(api)
    still_open = await raise_one(api)
    await api.quiet()

    finished = {
        e.stream_id: e.recorded_at
        for e in await api.store.read_types(["ShareRequestClosed", "ShareRequestWithdrawn"])
    }
    years = policy.retention.years_after_closure
    # A microsecond before the last withdrawal's retention ends: the closed request
    # and the first withdrawal are due; the last withdrawal is not, nor the open one.
    last = finished[stream_id_for(withdrawn_later)]
    now = retention_ends(last, years) - timedelta(microseconds=1)
    assert finished[stream_id_for(withdrawn_first)] < last
    run = await run_retention(
        api.store, years=years, policy_version=policy.version, now=now, actor=RETENTION_ACTOR
    )
    assert {d.request_id for d in run.shredded} == {closed, withdrawn_first}
    for request_id in (closed, withdrawn_first):
        [recorded] = await api.store.read_stream(retention_stream(subject_id_for(request_id)))
        assert recorded.type == SubjectShredded.event_type
        assert recorded.data["retention_years"] == years
    # A second run finds nothing more to do.
    again = await run_retention(
        api.store, years=years, policy_version=policy.version, now=now, actor=RETENTION_ACTOR
    )
    assert again.shredded == []

    def raised_is_redacted(events: list[RecordedEvent]) -> bool:
        return events[0].redacted_fields == {"child", "details"}

    for request_id, shredded in (
        (closed, True),
        (withdrawn_first, True),
        (withdrawn_later, False),
        (still_open, False),
    ):
        events = await api.store.read_stream(stream_id_for(request_id))
        assert raised_is_redacted(events) == shredded, request_id

    report = await api.http.get(
        "/v1/audit/report", params=EVER, headers=api.callers.auditor.headers
    )
    [row] = csv.DictReader(io.StringIO(report.content.decode("utf-8-sig")))
    assert (row["request_id"], row["child"]) == (str(closed), "[redacted]")
    assert row["outcome"] == "share_partial"  # the decision's record stays whole
    assert (await verify_log(api.store)).intact
    assert datetime.now(UTC) < now  # nothing was due in real time: the clock was the test's


async def withdrawn_request(api: Api) -> UUID:
    request_id = await raise_one(api)
    await api.quiet()
    await act(api, api.callers.officer, request_id, "withdrawal", {"reason": "Raised in error"})
    await api.quiet()
    return request_id
