"""The bus relay: every stored event, in order, to NATS JetStream as a CloudEvent.

The event store is the authority; the bus is a copy that agencies and other
services consume (format: :mod:`workers.bus.cloudevents`). The relay tails the store
from its checkpoint and publishes each event to the stream ``SHAREHUB_EVENTS``
(:mod:`workers.bus.streams`), keeping these promises:

- **Nothing lost.** The checkpoint (in PostgreSQL, ``checkpoints.name =
  'bus-relay'``) only ever covers events JetStream has acknowledged (a PubAck).
  A publish that fails or times out is retried, with backoff, until it is
  acknowledged; the relay never moves on past it. Store failures are retried
  the same way, from the last acknowledged position.
- **Nothing twice.** Each message's ``Nats-Msg-Id`` is the event id, so JetStream
  drops a re-publish within the stream's duplicate window (the PubAck says
  ``duplicate``). The checkpoint is saved every ``checkpoint_interval`` rather
  than after every event, so after a crash the relay re-publishes at most that
  last fraction of a second of acknowledged events: far inside the window.
- **In order.** One event at a time; the next is sent only once the previous is
  acknowledged, so the stream's sequence follows the global position.
- **No personal data in clear.** Events are read sealed: personal fields are the
  store's own AES-GCM ciphertext; headers carry only the event id and the
  content type.

``sharehub relay`` (:mod:`workers.processes.relay`, which ``sharehub up`` runs)
runs it; SIGINT or SIGTERM stops it after saving the checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from faststream.nats import NatsBroker
from nats.js.api import PubAck
from nats.js.errors import NoStreamResponseError, NotFoundError

from events.envelope import RecordedEvent
from events.errors import EventStoreError
from events.store import EventStore
from workers.bus.cloudevents import CONTENT_TYPE, cloudevent_bytes
from workers.bus.identities import service_broker_options
from workers.bus.jetstream import ensure_stream
from workers.bus.retry import Backoff, retry_until_it_works
from workers.bus.streams import EVENTS_STREAM, EVENTS_SUBJECTS, event_subject

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "bus-relay"
# JetStream remembers message ids this long. Generous, so that a relay restarted
# after an outage still has its re-published tail recognised; at sharehub's
# volumes (thousands of events a day) the memory it costs is negligible.
DUPLICATE_WINDOW = timedelta(hours=1)

T = TypeVar("T")


class EventRelay:
    """Publishes the store's events to JetStream from its checkpoint, for ever.

    Example::

        relay = EventRelay(store, nats_broker(nats_url, seed=seed))
        await relay.run()  # until cancelled; saves the checkpoint on the way out

    Args:
        store: the event store to tail.
        broker: a FastStream NATS broker; the relay connects it (retrying) and
            leaves closing it to the caller.
        checkpoint_name: the relay's row in ``checkpoints``.
        checkpoint_interval: seconds between checkpoint saves.
        publish_timeout: seconds to wait for JetStream's acknowledgement.
        first_retry_delay: seconds before the first retry of a failed step;
            doubled at each further failure up to ``max_retry_delay``.
    """

    def __init__(
        self,
        store: EventStore,
        broker: NatsBroker,
        *,
        checkpoint_name: str = CHECKPOINT_NAME,
        checkpoint_interval: float = 0.25,
        publish_timeout: float = 5.0,
        first_retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
    ) -> None:
        self._store = store
        self._broker = broker
        self._checkpoint_name = checkpoint_name
        self._checkpoint_interval = checkpoint_interval
        self._publish_timeout = publish_timeout
        self._backoff = Backoff(first=first_retry_delay, longest=max_retry_delay)
        self._acknowledged = 0  # the last position JetStream acknowledged
        self._saved = 0  # the last position saved as the checkpoint
        self.published = 0
        self.duplicates = 0

    async def run(self) -> None:
        """Connect, ensure the stream, then relay until cancelled."""
        logger.info("connecting to NATS")
        await self._until_it_works("connect to NATS", self._broker.connect)
        await self._until_it_works("create the JetStream stream", self.ensure_stream)
        self._acknowledged = self._saved = await self._until_it_works(
            "read the relay checkpoint", lambda: self._store.checkpoint(self._checkpoint_name)
        )
        logger.info("relaying events after position %d to %s", self._saved, EVENTS_STREAM)
        saver = asyncio.create_task(self._save_checkpoints_periodically())
        try:
            await self._relay_forever()
        finally:
            saver.cancel()
            # Cancelled or not, keep what JetStream has acknowledged: less to
            # re-publish next time. A failure here only means more of that.
            with contextlib.suppress(EventStoreError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await self._save_checkpoint()

    async def ensure_stream(self) -> None:
        """Create ``SHAREHUB_EVENTS``, or widen an existing one to what the relay needs."""
        await ensure_stream(
            self._broker.connection.jetstream(),
            name=EVENTS_STREAM,
            subjects=EVENTS_SUBJECTS,
            description="sharehub: every recorded event, as CloudEvents 1.0",
            duplicate_window=DUPLICATE_WINDOW,
        )

    async def _relay_forever(self) -> None:
        delays = self._backoff.delays()
        while True:
            try:
                async for event in self._store.subscribe(
                    from_position=self._acknowledged + 1, sealed=True
                ):
                    await self._publish_until_acknowledged(event)
                    delays = self._backoff.delays()  # it works again: wait little next time
            except EventStoreError as error:
                # Resubscribe from what JetStream has acknowledged: nothing skipped.
                logger.warning("event store failed (%s); retrying", error)
                await asyncio.sleep(next(delays))

    async def _publish_until_acknowledged(self, event: RecordedEvent) -> None:
        body = cloudevent_bytes(event)
        subject = event_subject(event.type)
        event_id = str(event.event_id)

        async def publish() -> PubAck:
            return await self._broker.publish(
                body,
                subject=subject,
                stream=EVENTS_STREAM,
                headers={"Nats-Msg-Id": event_id, "content-type": CONTENT_TYPE},
                correlation_id=event_id,
                timeout=self._publish_timeout,
            )

        acknowledgement = await self._until_it_works(
            f"publish the event at position {event.global_position}",
            publish,
            before_retry=self._recreate_a_missing_stream,
        )
        self._acknowledged = event.global_position
        if acknowledgement.duplicate:
            self.duplicates += 1
            logger.info("event at position %d was already on the bus", event.global_position)
        else:
            self.published += 1

    async def _recreate_a_missing_stream(self, error: Exception) -> None:
        """Before retrying a publish that no stream took: someone deleted the stream."""
        if isinstance(error, NoStreamResponseError | NotFoundError):
            with contextlib.suppress(Exception):
                await self.ensure_stream()

    async def _until_it_works(
        self,
        what: str,
        attempt: Callable[[], Awaitable[T]],
        *,
        before_retry: Callable[[Exception], Awaitable[None]] | None = None,
    ) -> T:
        """``attempt()``'s result, retried with backoff for as long as it takes.

        Anything but cancellation is retried: the relay must never skip an event.
        """
        return await retry_until_it_works(
            what, attempt, backoff=self._backoff, logger=logger, before_retry=before_retry
        )

    async def _save_checkpoints_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._checkpoint_interval)
            try:
                await self._save_checkpoint()
            except EventStoreError as error:
                logger.warning("cannot save the relay checkpoint (%s); will retry", error)

    async def _save_checkpoint(self) -> None:
        acknowledged = self._acknowledged
        if acknowledged > self._saved:
            await self._store.save_checkpoint(self._checkpoint_name, acknowledged)
            self._saved = acknowledged


def nats_broker(nats_url: str, *, seed: str, tls: ssl.SSLContext | None = None) -> NatsBroker:
    """A broker that (re)connects for ever, quickly: the relay outlives NATS restarts.

    ``seed`` is sharehub's service identity on NATS (``Settings.nats_service_seed``);
    ``tls`` how it checks a server behind a private CA (``Settings.nats_tls_context``).

    The first connection also waits for NATS, however long it takes. The client
    reports each failed attempt (every second, during an outage) at debug level;
    losing and regaining the connection is logged once each.
    """

    async def on_error(error: Exception) -> None:
        logger.debug("NATS connection: %r", error)

    async def on_disconnected() -> None:
        # Also called when we close the connection ourselves: no news then.
        if not broker.connection.is_closed:
            logger.warning("disconnected from NATS; reconnecting")

    async def on_reconnected() -> None:
        logger.info("reconnected to NATS")

    broker = NatsBroker(
        nats_url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=2,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
        log_level=logging.DEBUG,  # FastStream's own service messages
        **service_broker_options(seed, tls=tls),
    )
    return broker
