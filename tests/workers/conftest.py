"""A running sharehub on real servers: the dev Temporal server, NATS JetStream, PostgreSQL.

``worker`` runs the share-request worker in the test process, wired as
``sharehub worker`` wires it, on a task queue of the test's own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
import pytest
from faststream.nats import NatsBroker
from temporalio.client import Client
from temporalio.worker import Worker

from events.postgres import PostgresEventStore
from tests.conftest import NATS_SERVICE_SEED
from tests.events.conftest import MASTER_KEY, database_url, template_database  # noqa: F401
from workers.bus.identities import service_broker_options
from workers.bus.intake.serving import serve_intake
from workers.bus.notices import NatsAgencyPublisher
from workers.bus.streams import AGENCIES_STREAM, AGENCIES_SUBJECTS
from workers.hub.context import opened_context
from workers.hub.share_requests import ShareRequestService
from workers.processes.api import sharehub_app
from workers.settings import Settings
from workers.stack.embedded import EmbeddedNats
from workers.temporal.client import data_converter
from workflows.activities import AgencyNotice, ShareRequestActivities
from workflows.policy import DataSharingAgreement
from workflows.policy_file import load_policy
from workflows.share_request import ShareRequestWorkflow

DEMO_POLICY = Path(__file__).resolve().parents[2] / "policy" / "demo-dsa.toml"


@pytest.fixture
def settings(
    database_url: str,  # noqa: F811 (the fixture imported above)
    temporal_address: str,
    nats_server: EmbeddedNats,
    tmp_path: Path,
) -> Settings:
    return Settings(
        database_url=database_url,
        temporal_address=temporal_address,
        nats_url=nats_server.url,
        nats_seed=NATS_SERVICE_SEED,
        # Bus credentials a test issues reach the session's server (the last one wins).
        nats_server_config=nats_server.files.config,
        temporal_task_queue=f"demo-{uuid.uuid4()}",
        # A checkpoint stream of the test's own: other tests' logs have other roots.
        checkpoint_stream=f"CHECKPOINTS_{uuid.uuid4().hex}",
        master_key=base64.b64encode(MASTER_KEY).decode(),
        policy_file=DEMO_POLICY,
        home=tmp_path / "home",
        # The tests send revoked and made-up keys on purpose; tests/workers/api/test_throttle.py
        # checks the throttle with a limit of its own.
        failed_key_attempts=1_000_000,
    )


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[PostgresEventStore]:
    store = await PostgresEventStore.open(settings.resolved_database_url(), master_key=MASTER_KEY)
    yield store
    await store.close()


@pytest.fixture
async def client(settings: Settings) -> Client:
    return await Client.connect(
        settings.resolved_temporal_address(), data_converter=data_converter(MASTER_KEY)
    )


@pytest.fixture
async def worker(
    settings: Settings, store: PostgresEventStore, client: Client
) -> AsyncIterator[None]:
    broker = NatsBroker(
        settings.resolved_nats_url(), **service_broker_options(settings.nats_service_seed())
    )
    publisher = NatsAgencyPublisher(broker)
    await publisher.start()
    activities = ShareRequestActivities(store, publisher)
    async with Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[ShareRequestWorkflow],
        activities=[activities.record_events, activities.notify_agency],
    ):
        yield
    await broker.stop()


@pytest.fixture(scope="session")
def policy() -> DataSharingAgreement:
    return load_policy(DEMO_POLICY)


@pytest.fixture
def service(
    client: Client, settings: Settings, policy: DataSharingAgreement
) -> ShareRequestService:
    return ShareRequestService(client, policy, task_queue=settings.temporal_task_queue)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """sharehub as agency systems and people reach it: the HTTP API (in-process, with its
    read-model projector) and bus intake. Tests add a worker of their choice."""
    broker = NatsBroker(
        settings.resolved_nats_url(), **service_broker_options(settings.nats_service_seed())
    )
    async with opened_context(settings) as context:
        intake = asyncio.create_task(serve_intake(settings, broker, context.store))
        app = sharehub_app(context)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sharehub") as http:
            yield http
        intake.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await intake
    await broker.stop()


async def notices_by_subject(nats_url: str) -> dict[str, list[tuple[AgencyNotice, bytes]]]:
    client = await nats.connect(nats_url, nkeys_seed_str=NATS_SERVICE_SEED)
    try:
        subscription = await client.jetstream().pull_subscribe(
            AGENCIES_SUBJECTS, stream=AGENCIES_STREAM
        )
        found: dict[str, list[tuple[AgencyNotice, bytes]]] = defaultdict(list)
        while True:
            try:
                batch = await subscription.fetch(500, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):  # nats-py raises either
                return found
            for message in batch:
                notice = AgencyNotice.model_validate_json(message.data)
                found[message.subject].append((notice, message.data))
    finally:
        await client.close()
