"""The resources every door works with, opened once: :class:`HubContext`.

The HTTP API and the console (one process, ``sharehub api``) open it in the app's
lifespan and keep it on ``app.state``; each operator command (``sharehub queue``,
``triage`` …) opens it for the length of the command. Either way the door talks to
the same services: the share-request service, the records (need-to-know and the
access log), the API clients, and a read-model projector that follows the log.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from temporalio.client import Client

from events.postgres import PostgresEventStore
from events.read_models.projector import Projector, running_projector
from workers.hub.clients import ApiClients
from workers.hub.records import Records
from workers.hub.share_requests import ShareRequestService
from workers.resources import open_event_store
from workers.settings import Settings
from workers.temporal.client import temporal_client
from workflows.policy import DataSharingAgreement
from workflows.policy_file import load_policy


@dataclass(frozen=True)
class HubContext:
    settings: Settings
    policy: DataSharingAgreement
    store: PostgresEventStore
    temporal: Client
    service: ShareRequestService
    records: Records
    clients: ApiClients
    projector: Projector


@contextlib.asynccontextmanager
async def opened_context(settings: Settings) -> AsyncIterator[HubContext]:
    """The hub's resources for the block; the projector follows the log meanwhile."""
    policy = load_policy(settings.policy_file)
    async with (
        await open_event_store(settings) as store,
        temporal_client(settings) as client,
        running_projector(store) as projector,
    ):
        yield HubContext(
            settings=settings,
            policy=policy,
            store=store,
            temporal=client,
            service=ShareRequestService(client, policy, task_queue=settings.temporal_task_queue),
            records=Records(store),
            clients=ApiClients(store),
            projector=projector,
        )
