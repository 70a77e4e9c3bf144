"""A worker killed mid-request and restarted finishes every request, recording each event once.

``sharehub worker`` runs as a real process. While the demo keeps requests in
flight, the worker is SIGKILLed twice — with workflow tasks and activities
under way — and started again. Every request must still end on its path, with
exactly the events its path records (no lost and no repeated step), the chain
intact, and each agency notice on the bus once.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
from collections import Counter
from pathlib import Path

import httpx
from rich.console import Console

from events.postgres import PostgresEventStore
from events.share_requests import stream_id_for
from events.verify import verify_chain
from tests.workers.conftest import notices_by_subject
from workers.demo.cases import DemoPath
from workers.demo.run import run_demo
from workers.settings import Settings
from workers.stack.child_process import ChildProcess
from workers.stack.devstack import sharehub_command

REQUESTS = 2 * len(DemoPath)
KILL_AT_EVENTS = (15, 60)

_DISCLOSED = {
    "ShareRequestRaised": 1,
    "TriageRecorded": 1,
    "DecisionRecorded": 1,
    "ReferrerToldOutcome": 1,
    "DisclosureSent": 3,
    "DisclosureAcknowledged": 3,
    "FamilyStepRecorded": 1,
}
EXPECTED_EVENTS = {
    DemoPath.SHARED: Counter({**_DISCLOSED, "ShareRequestClosed": 1}),
    DemoPath.PARTLY_SHARED: Counter({**_DISCLOSED, "ShareRequestClosed": 1}),
    DemoPath.SECOND_SIGN_OFF: Counter(
        {**_DISCLOSED, "DecisionSignedOff": 1, "ShareRequestClosed": 1}
    ),
    DemoPath.FAMILY_DEFERRED: Counter(_DISCLOSED),
    DemoPath.DECLINED_AFTER_ADVICE: Counter(
        ShareRequestRaised=1,
        TriageRecorded=1,
        AdviceSought=1,
        AdviceGiven=1,
        DecisionRecorded=1,
        ReferrerToldOutcome=1,
        FamilyStepRecorded=1,
        ShareRequestClosed=1,
    ),
    DemoPath.WITHDRAWN: Counter(ShareRequestRaised=1, TriageRecorded=1, ShareRequestWithdrawn=1),
}


def start_worker(settings: Settings, log_file: Path) -> ChildProcess:
    env = {
        **os.environ,
        "SHAREHUB_DATABASE_URL": settings.resolved_database_url(),
        "SHAREHUB_TEMPORAL_ADDRESS": settings.resolved_temporal_address(),
        "SHAREHUB_NATS_URL": settings.resolved_nats_url(),
        "SHAREHUB_NATS_SEED": settings.nats_service_seed(),
        "SHAREHUB_TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "SHAREHUB_MASTER_KEY": settings.master_key or "",
        "SHAREHUB_HOME": str(settings.home),
    }
    return ChildProcess.start(
        "worker",
        sharehub_command("worker"),
        log_file=log_file,
        env=env,
        stop_signal=signal.SIGKILL,  # no goodbye: as if the machine died
    )


async def kill_and_restart_worker(
    settings: Settings, store: PostgresEventStore, log_file: Path
) -> ChildProcess:
    worker = start_worker(settings, log_file)
    for threshold in KILL_AT_EVENTS:
        # Polls the database: the requests' events tell how far they are.
        while await requests_events(store) < threshold:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        await worker.stop()
        worker = start_worker(settings, log_file)
    return worker


async def requests_events(store: PostgresEventStore) -> int:
    [row] = await store.query(
        "SELECT count(*) AS n FROM events WHERE stream_id LIKE 'share-request-%'"
    )
    return int(row["n"])


async def test_a_worker_killed_mid_request_finishes_every_request_without_duplicates(
    settings: Settings, store: PostgresEventStore, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    log_file = tmp_path / "worker.log"
    killing = asyncio.create_task(kill_and_restart_worker(settings, store, log_file))
    output = io.StringIO()
    try:
        run = await run_demo(
            settings,
            requests=REQUESTS,
            concurrency=REQUESTS,
            seed=7,
            console=Console(file=output, width=120),
            http=api,
        )
        worker = await killing
    finally:
        killing.cancel()
    try:
        assert run.succeeded, output.getvalue() + log_file.read_text()
        assert log_file.read_text().count("worker polling task queue") == 1 + len(KILL_AT_EVENTS)
        for outcome in run.outcomes:
            recorded = await store.read_stream(stream_id_for(outcome.request_id))
            assert Counter(e.type for e in recorded) == EXPECTED_EVENTS[outcome.case.path]
        assert (await verify_chain(store)).first_break is None
        ours = {str(o.request_id) for o in run.outcomes}
        counts = Counter(
            (str(notice.request_id), str(notice.notice_id))
            for notices in (await notices_by_subject(settings.resolved_nats_url())).values()
            for notice, _ in notices
        )
        mine = {key: count for key, count in counts.items() if key[0] in ours}
        assert mine and set(mine.values()) == {1}
    finally:
        await worker.stop()
