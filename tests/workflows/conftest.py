"""Fixtures for the share-request workflow: the demo agreement, a time-skipping
Temporal server, and a worker per test on real PostgreSQL."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from events.postgres import PostgresEventStore
from tests.events.conftest import (  # noqa: F401
    MASTER_KEY,
    database_url,
    store,
    template_database,
)
from workers.temporal.client import data_converter
from workflows.activities import ShareRequestActivities
from workflows.models import ActionResult, StartShareRequest
from workflows.policy import DataSharingAgreement
from workflows.policy_file import load_policy
from workflows.share_request import ShareRequestWorkflow

DEMO_POLICY = Path(__file__).resolve().parents[2] / "policy" / "demo-dsa.toml"


@pytest.fixture(scope="session")
def policy() -> DataSharingAgreement:
    return load_policy(DEMO_POLICY)


async def start_time_skipping() -> WorkflowEnvironment:
    server = Path(sys.executable).parent / "temporal-test-server"
    # The converter every sharehub process uses: pydantic, payloads encrypted.
    return await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(MASTER_KEY), test_server_existing_path=str(server)
    )


@pytest.fixture(scope="session")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@dataclass
class RecordingPublisher:
    """Stands in for NATS where a test is about the workflow, not the bus."""

    published: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def publish(self, *, subject: str, message_id: str, body: bytes) -> None:
        self.published.append((subject, message_id, body))


@dataclass
class HubWorker:
    env: WorkflowEnvironment
    task_queue: str
    publisher: RecordingPublisher
    handles: list[WorkflowHandle[ShareRequestWorkflow, ActionResult]] = field(default_factory=list)

    async def begin(
        self, start_input: StartShareRequest
    ) -> WorkflowHandle[ShareRequestWorkflow, ActionResult]:
        handle = await self.env.client.start_workflow(
            ShareRequestWorkflow.run,
            start_input,
            id=str(start_input.request.request_id),
            task_queue=self.task_queue,
        )
        self.handles.append(handle)
        return handle

    async def end_unfinished(self) -> None:
        """Terminate what a test left running: the time-skipping server cannot skip
        time while a workflow whose worker is gone has timers pending."""
        for handle in self.handles:
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")


@pytest.fixture
async def hub(
    time_skipping: WorkflowEnvironment,
    store: PostgresEventStore,  # noqa: F811 (the fixture imported above)
) -> AsyncIterator[HubWorker]:
    publisher = RecordingPublisher()
    activities = ShareRequestActivities(store, publisher)
    task_queue = f"share-requests-{uuid.uuid4()}"
    async with Worker(
        time_skipping.client,
        task_queue=task_queue,
        workflows=[ShareRequestWorkflow],
        activities=[activities.record_events, activities.notify_agency],
    ):
        hub = HubWorker(time_skipping, task_queue, publisher)
        # Time moves only when a test says so (env.sleep): waiting on a result
        # would otherwise let the server leap ahead to a default timeout years
        # away, past the years whose bank holidays the agreement knows.
        with time_skipping.auto_time_skipping_disabled():
            yield hub
        await hub.end_unfinished()
