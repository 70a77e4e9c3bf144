"""``sharehub worker``: the Temporal worker that runs share-request workflows.

Builds the activities with their resources (event store, agency publisher) and
runs until SIGINT or SIGTERM. Scale out by starting more workers on the same
task queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from faststream.nats import NatsBroker
from temporalio.worker import Worker

from workers.bus.identities import service_broker_options
from workers.bus.notices import NatsAgencyPublisher
from workers.resources import open_event_store
from workers.settings import Settings
from workers.temporal.client import temporal_client
from workflows.activities import ShareRequestActivities
from workflows.share_request import ShareRequestWorkflow

logger = logging.getLogger(__name__)


def run_worker(settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return asyncio.run(_work_until_stopped(settings))


async def _work_until_stopped(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    broker = NatsBroker(
        settings.resolved_nats_url(),
        **service_broker_options(settings.nats_service_seed(), tls=settings.nats_tls_context()),
    )
    publisher = NatsAgencyPublisher(broker)
    await publisher.start()
    try:
        async with (
            await open_event_store(settings) as store,
            temporal_client(settings) as client,
        ):
            activities = ShareRequestActivities(store, publisher)
            worker = Worker(
                client,
                task_queue=settings.temporal_task_queue,
                workflows=[ShareRequestWorkflow],
                activities=[activities.record_events, activities.notify_agency],
            )
            async with worker:
                logger.info("worker polling task queue %s", settings.temporal_task_queue)
                await stop.wait()
                logger.info("stopping the worker")
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await broker.stop()
    return 0
