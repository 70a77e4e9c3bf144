"""``sharehub relay``: the process that keeps the bus in step with the store.

It runs three services side by side until SIGINT or SIGTERM, each on a bus
connection of its own:

- the event relay (:class:`~workers.bus.relay.EventRelay`): every stored event to
  ``SHAREHUB_EVENTS``; the process lives as long as it does;
- bus intake (:func:`~workers.bus.intake.serving.serve_intake`): agencies' raises
  and acknowledgements, which needs Temporal, as the relay does not;
- the checkpointer (:func:`~workers.audit.checkpointer.run_checkpointer`): signed
  checkpoints, kept in the store and copied to the bus.

``sharehub up`` runs it as a child process. It exits 0 after a clean stop, 1 if a
service failed unexpectedly (every expected failure is retried inside them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from workers.audit.checkpointer import run_checkpointer
from workers.bus.intake.serving import serve_intake
from workers.bus.relay import EventRelay, nats_broker
from workers.resources import open_event_store
from workers.settings import Settings

logger = logging.getLogger(__name__)


def run_relay(settings: Settings) -> int:
    """``sharehub relay``: relay until SIGINT or SIGTERM; 0 after a clean stop."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return asyncio.run(_relay_until_stopped(settings))


async def _relay_until_stopped(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    url, seed, tls = (
        settings.resolved_nats_url(),
        settings.nats_service_seed(),
        settings.nats_tls_context(),
    )
    broker = nats_broker(url, seed=seed, tls=tls)
    intake_broker = nats_broker(url, seed=seed, tls=tls)
    async with await open_event_store(settings, max_connections=4) as store:
        relay = EventRelay(store, broker)
        relaying = asyncio.create_task(relay.run(), name="bus-relay")
        # Bus intake runs beside the relay, on a connection of its own. It needs
        # Temporal, which the relay does not: the relay never waits for it.
        intake = asyncio.create_task(
            serve_intake(settings, intake_broker, store), name="bus-intake"
        )
        checkpointing = asyncio.create_task(run_checkpointer(settings, store), name="checkpointer")
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({relaying, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (relaying, intake, checkpointing, stopping):
            task.cancel()
        status = 0
        for task, service in (
            (relaying, "the relay"),
            (intake, "bus intake"),
            (checkpointing, "the checkpointer"),
        ):
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # a bug: each service retries what is expected to fail
                logger.exception("%s failed", service)
                status = 1
        for each in (broker, intake_broker):
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await each.stop()
    logger.info(
        "relay stopped: %d published, %d already on the bus", relay.published, relay.duplicates
    )
    return status
