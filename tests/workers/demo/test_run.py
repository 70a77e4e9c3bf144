"""``sharehub demo`` against a real stack: Temporal dev server, NATS JetStream, PostgreSQL.

The worker runs in the test process, wired as ``sharehub worker`` wires it. After
the demo, each agency's subject must hold exactly the disclosures decided for it,
and neither Temporal's history nor the bus may hold a child's name in plaintext.
"""

from __future__ import annotations

import io
import uuid
from collections import defaultdict

import httpx
from rich.console import Console
from temporalio.client import Client

from events.postgres import PostgresEventStore
from events.share_requests import DisclosureSent, share_request_events, stream_id_for
from tests.workers.conftest import notices_by_subject
from workers.demo.cases import DemoPath
from workers.demo.run import DemoOutcome, run_demo
from workers.settings import Settings
from workflows.models import Stage
from workflows.policy import DataSharingAgreement

SEED = 20261125
REQUESTS = len(DemoPath)


ENDINGS = {
    DemoPath.SHARED: Stage.CLOSED,
    DemoPath.PARTLY_SHARED: Stage.CLOSED,
    DemoPath.DECLINED_AFTER_ADVICE: Stage.CLOSED,
    DemoPath.WITHDRAWN: Stage.WITHDRAWN,
    DemoPath.SECOND_SIGN_OFF: Stage.CLOSED,
    DemoPath.FAMILY_DEFERRED: Stage.FAMILY_STEP,  # waiting for the revisit date
}
SHARING = {
    DemoPath.SHARED,
    DemoPath.PARTLY_SHARED,
    DemoPath.SECOND_SIGN_OFF,
    DemoPath.FAMILY_DEFERRED,
}


async def test_the_demo_plays_every_path_and_each_agency_gets_exactly_its_disclosures(
    settings: Settings,
    store: PostgresEventStore,
    client: Client,
    worker: None,
    api: httpx.AsyncClient,
    policy: DataSharingAgreement,
) -> None:
    output = io.StringIO()
    run = await run_demo(
        settings,
        requests=REQUESTS,
        concurrency=3,
        seed=SEED,
        console=Console(file=output, width=120),
        http=api,
    )
    assert run.succeeded, output.getvalue()
    assert {o.case.path: o.stage for o in run.outcomes} == ENDINGS
    deferred = next(o for o in run.outcomes if o.case.path is DemoPath.FAMILY_DEFERRED)
    assert deferred.family_revisit_on is not None

    # What the store says was sent to each agency, per the decisions...
    decided: dict[str, set[tuple[uuid.UUID, str, tuple[str, ...]]]] = defaultdict(set)
    for outcome in run.outcomes:
        request_id = outcome.request_id
        for recorded in await store.read_stream(stream_id_for(request_id)):
            if recorded.type == "DisclosureSent":
                sent = share_request_events.decode(recorded)
                assert isinstance(sent, DisclosureSent)
                decided[sent.bus_subject].add(
                    (sent.disclosure_id, sent.agency, tuple(sent.categories))
                )
    expected: dict[str, set[tuple[str, tuple[str, ...]]]] = defaultdict(set)
    for outcome in run.outcomes:
        if outcome.case.path in SHARING:
            partial = outcome.case.path is DemoPath.PARTLY_SHARED
            for share in outcome.case.shares(partial=partial):
                subject = policy.agency(share.agency).bus_subject  # type: ignore[union-attr]
                expected[subject].add((share.agency, share.categories))
    assert {
        subject: {(agency, categories) for _, agency, categories in sent}
        for subject, sent in decided.items()
    } == expected

    # ... is exactly what each agency's subject holds, and nothing personal is on it.
    ours = {o.request_id for o in run.outcomes}
    on_the_bus: dict[str, set[tuple[uuid.UUID, str, tuple[str, ...]]]] = defaultdict(set)
    for subject, notices in (await notices_by_subject(settings.resolved_nats_url())).items():
        for notice, body in notices:
            if notice.request_id not in ours:
                continue  # another test's
            assert subject == policy.agency(notice.agency).bus_subject  # type: ignore[union-attr]
            assert_no_personal_data(body, run.outcomes)
            if notice.kind == "disclosure":
                on_the_bus[subject].add((notice.notice_id, notice.agency, tuple(notice.categories)))
    assert on_the_bus == decided

    # Temporal's history of every request: payloads encrypted, no name in plaintext.
    for outcome in run.outcomes:
        handle = client.get_workflow_handle(str(outcome.request_id))
        history = await handle.fetch_history()
        raw = b"".join(event.SerializeToString() for event in history.events)
        assert b"binary/encrypted" in raw
        assert_no_personal_data(raw, run.outcomes)


def assert_no_personal_data(raw: bytes, outcomes: list[DemoOutcome]) -> None:
    for outcome in outcomes:
        request = outcome.case.request
        child, parent = request.details.people
        secrets = {
            child.given_names,
            child.family_name,
            parent.given_names,
            request.child.nhs_number or "",
            child.address.lines[0] if child.address else "",
        }
        for secret in secrets - {""}:
            assert secret.encode() not in raw, f"{secret!r} in plaintext"
