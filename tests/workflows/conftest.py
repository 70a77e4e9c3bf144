"""Fixtures for the share-request workflow: the demo agreement, a time-skipping
Temporal server, and a worker per test on real PostgreSQL."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from events.postgres import PostgresEventStore
from tests.events.conftest import database_url, store, template_database  # noqa: F401
from workflows.activities import ShareRequestActivities
from workflows.policy import DataSharingAgreement, load_policy
from workflows.share_request import ShareRequestWorkflow

DEMO_POLICY = Path(__file__).resolve().parents[2] / "policy" / "demo-dsa.toml"


@pytest.fixture(scope="session")
def policy() -> DataSharingAgreement:
    return load_policy(DEMO_POLICY)


@pytest.fixture(scope="session")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    server = Path(sys.executable).parent / "temporal-test-server"
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=str(server)
    )
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
        yield HubWorker(time_skipping, task_queue, publisher)
