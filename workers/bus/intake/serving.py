"""Running bus intake against Temporal, as ``sharehub relay`` does.

:func:`serve_intake` connects to Temporal (waiting for it), builds the
share-request service and :class:`~workers.bus.intake.consumer.BusIntake` on it
(with the store, which keeps whose each request id is),
and serves until cancelled. :class:`TemporalRaisedRequests` tells the consumer
what a request id was first raised with, from the workflow's history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

from faststream.nats import NatsBroker
from temporalio.client import Client

from events.postgres import PostgresEventStore
from workers.bus.intake.consumer import BusIntake
from workers.bus.retry import Backoff, retry_until_it_works
from workers.hub.share_requests import ShareRequestService
from workers.hub.submissions import RequestIdOwners
from workers.settings import Settings, StackNotFound
from workers.temporal.client import temporal_client
from workflows.models import RaiseShareRequest, StartShareRequest
from workflows.policy_file import PolicyError, load_policy

logger = logging.getLogger(__name__)
T = TypeVar("T")


class TemporalRaisedRequests:
    """Reads a request as raised from its workflow's start input.

    Only asked after Temporal refused a second start with the id, so the
    workflow's history is there; it is decoded with the client's (decrypting)
    data converter.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    async def first_raised(self, request_id: UUID) -> RaiseShareRequest:
        handle = self._client.get_workflow_handle(str(request_id))
        async for event in handle.fetch_history_events(page_size=1):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [start] = await self._client.data_converter.decode(list(payloads), [StartShareRequest])
            assert isinstance(start, StartShareRequest)
            return start.request
        raise LookupError(f"share request {request_id} has no history")


async def serve_intake(settings: Settings, broker: NatsBroker, store: PostgresEventStore) -> None:
    """Run bus intake until cancelled: ``sharehub relay`` runs this beside the relay.

    ``store`` keeps whose each request id is (the relay's store, shared).

    Waits for Temporal as the relay waits for NATS. Without a Temporal address
    or a readable agreement the intake cannot work: it says so and returns,
    leaving the relay to run on.
    """
    try:
        policy = load_policy(settings.policy_file)
        settings.resolved_temporal_address()
    except (StackNotFound, PolicyError) as error:
        logger.error("bus intake not started: %s", error)
        return
    async with contextlib.AsyncExitStack() as resources:
        client = await _until_it_works(
            "connect to Temporal",
            lambda: resources.enter_async_context(temporal_client(settings)),
        )
        service = ShareRequestService(client, policy, task_queue=settings.temporal_task_queue)
        intake = BusIntake(
            service,
            TemporalRaisedRequests(client),
            request_ids=RequestIdOwners(store),
            broker=broker,
        )
        try:
            # Safe to repeat: the broker starts consuming only once the streams exist.
            await _until_it_works("start bus intake", intake.start)
            await asyncio.Event().wait()  # until cancelled
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await intake.stop()


async def _until_it_works(what: str, attempt: Callable[[], Awaitable[T]]) -> T:
    # Every failure is worth a warning: without Temporal, agencies go unanswered.
    # (Temporal not up yet looks like a RuntimeError from its core.)
    return await retry_until_it_works(
        what,
        attempt,
        backoff=Backoff(first=0.5, longest=10.0),
        logger=logger,
        later_failure_level=logging.WARNING,
    )
