"""The checkpointer: signs the log's Merkle root as it grows, and keeps a copy off the database.

Every ``checkpoint_every_events`` new events, or once the oldest unsigned event
has waited ``checkpoint_every_seconds``, it signs a checkpoint over the whole
log (see :mod:`events.signed_checkpoints`), keeps it in PostgreSQL and publishes
it to the JetStream stream ``SHAREHUB_CHECKPOINTS`` (:mod:`workers.bus.streams`).
That stream is created with deny-delete and deny-purge, so a checkpoint once
published stays there even for someone who can rewrite the database; ``audit
verify`` compares both copies. (NATS still lets an operator delete the whole stream: the copy is
protection against a database insider, not against the bus's administrator.)

On start it re-reads the log up to the latest checkpoint and checks that the
log still has that checkpoint's root. If it does not, the log was changed under
a signed checkpoint: it refuses to sign anything more, and says so loudly,
rather than vouch for a tampered log.

It runs inside the relay process (``sharehub relay``, which ``sharehub up``
runs; :mod:`workers.processes.relay`): the process that already holds the store
and the bus. Checkpoints it kept but could not yet publish are published on the
next start or turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError

from events.errors import EventStoreError
from events.merkle import MerkleAccumulator, leaf_hash
from events.signed_checkpoints import CheckpointSigner, SignedCheckpoint
from events.store import EventStore
from workers.audit.keys import AuditKeyError, signing_key
from workers.bus.identities import service_connect_options
from workers.bus.jetstream import ensure_stream
from workers.bus.retry import Backoff, retry_until_it_works
from workers.bus.streams import CHECKPOINTS_STREAM, checkpoints_subject
from workers.settings import Settings

logger = logging.getLogger(__name__)

# What a store or bus outage looks like: retried. Anything else is a bug and ends the task.
_PASSING_FAILURES = (EventStoreError, OSError, TimeoutError, nats.errors.Error)


class CheckpointerError(Exception):
    pass


class LogDiffersFromCheckpoint(CheckpointerError):
    def __init__(self, checkpoint: SignedCheckpoint, found: int) -> None:
        super().__init__(
            f"the log's first {checkpoint.tree_size} events no longer have the signed root of "
            f"the checkpoint at tree size {checkpoint.tree_size} (the log has {found} events); "
            "refusing to sign more checkpoints: run `sharehub audit verify`"
        )
        self.checkpoint = checkpoint


def checkpoint_due(
    *, unsigned: int, waited_seconds: float, every_events: int, every_seconds: float
) -> bool:
    """Whether to sign now: enough new events, or new events that waited long enough."""
    return unsigned >= every_events or (unsigned > 0 and waited_seconds >= every_seconds)


class CheckpointCopies:
    """The checkpoints' copy on JetStream, outside the database."""

    def __init__(self, streams: JetStreamContext, *, stream: str = CHECKPOINTS_STREAM) -> None:
        self._streams = streams
        self.stream = stream
        self._subject = checkpoints_subject(stream)

    async def ensure_stream(self) -> None:
        """Create the stream, refusing deletes and purges; tighten an existing one."""
        await ensure_stream(
            self._streams,
            name=self.stream,
            subjects=self._subject,
            description="sharehub: signed checkpoints of the event log (never deleted)",
            duplicate_window=timedelta(days=1),
            keep_every_message=True,
        )

    async def publish(self, checkpoint: SignedCheckpoint) -> None:
        # The tree size is the message id: a re-publish after a crash is dropped
        # by the stream's duplicate window rather than stored twice.
        await self._streams.publish(
            self._subject,
            json.dumps(checkpoint.as_json(), sort_keys=True).encode(),
            stream=self.stream,
            headers={"Nats-Msg-Id": f"checkpoint-{checkpoint.tree_size}"},
        )

    async def latest_tree_size(self) -> int:
        try:
            message = await self._streams.get_last_msg(self.stream, self._subject)
        except NotFoundError:
            return 0
        return SignedCheckpoint.from_json(json.loads(message.data or b"{}")).tree_size

    async def all(self, *, wait_seconds: float = 5.0) -> list[SignedCheckpoint]:
        """Every checkpoint on the stream, in publication order.

        Raises:
            CheckpointerError: a message on the stream is not a checkpoint.
        """
        try:
            info = await self._streams.stream_info(self.stream)
        except NotFoundError:
            return []
        count = info.state.messages
        found: list[SignedCheckpoint] = []
        if count == 0:
            return found
        subscription = await self._streams.subscribe(
            self._subject,
            stream=self.stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL,
        )
        try:
            while len(found) < count:
                message = await subscription.next_msg(timeout=wait_seconds)
                try:
                    found.append(SignedCheckpoint.from_json(json.loads(message.data)))
                except (ValueError, KeyError, TypeError) as e:
                    raise CheckpointerError(
                        f"message {len(found) + 1} on {self.stream} is not a checkpoint"
                    ) from e
        finally:
            await subscription.unsubscribe()
        return found


class Checkpointer:
    def __init__(
        self,
        store: EventStore,
        signer: CheckpointSigner,
        copies: CheckpointCopies,
        *,
        every_events: int,
        every_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._signer = signer
        self._copies = copies
        self._every_events = every_events
        self._every_seconds = every_seconds
        self._clock = clock
        self._tree = MerkleAccumulator()
        self._head_hash = b""
        self._signed_size = 0
        self._published_size = 0
        self._unsigned_since: float | None = None  # monotonic time the oldest unsigned was seen

    async def start(self) -> None:
        """Ready the stream, rebuild the tree up to the latest checkpoint and check it.

        Raises:
            LogDiffersFromCheckpoint: the log no longer matches its latest checkpoint.
        """
        await self._copies.ensure_stream()
        latest = await self._store.latest_signed_checkpoint()
        if latest is not None:
            await self._extend(up_to=latest.tree_size)
            if self._tree.size != latest.tree_size or self._tree.root() != latest.root_hash:
                raise LogDiffersFromCheckpoint(latest, self._tree.size)
            self._signed_size = latest.tree_size
        self._published_size = await self._copies.latest_tree_size()
        await self._publish_kept()

    async def turn(self, *, force: bool = False) -> SignedCheckpoint | None:
        """Take in new events; sign, keep and publish a checkpoint when one is due."""
        await self._extend()
        unsigned = self._tree.size - self._signed_size
        if unsigned and self._unsigned_since is None:
            self._unsigned_since = time.monotonic()
        waited = 0.0 if self._unsigned_since is None else time.monotonic() - self._unsigned_since
        due = checkpoint_due(
            unsigned=unsigned,
            waited_seconds=waited,
            every_events=self._every_events,
            every_seconds=self._every_seconds,
        )
        if not (due or (force and unsigned)):
            await self._publish_kept()
            return None
        checkpoint = self._signer.sign(
            tree_size=self._tree.size,
            root_hash=self._tree.root(),
            head_hash=self._head_hash,
            signed_at=self._clock(),
        )
        kept = await self._store.record_signed_checkpoint(checkpoint)
        self._signed_size = kept.tree_size
        self._unsigned_since = None
        logger.info("signed checkpoint at tree size %d", kept.tree_size)
        await self._publish_kept()
        return kept

    async def run(self, *, poll_seconds: float = 1.0) -> None:
        """Until cancelled; store and bus failures are retried, a tampered log stops it."""
        await retry_until_it_works(
            "start the checkpointer",
            self.start,
            backoff=Backoff(first=2.0, longest=2.0),
            logger=logger,
            retried=_PASSING_FAILURES,
            later_failure_level=logging.WARNING,
        )
        pause = min(poll_seconds, self._every_seconds)
        while True:
            try:
                await self.turn()
            except _PASSING_FAILURES as error:
                logger.warning("checkpointer: %s; will retry", error)
            await asyncio.sleep(pause)

    async def _extend(self, *, up_to: int | None = None) -> None:
        async for link in self._store.chain_links(
            from_position=self._tree.size + 1, to_position=up_to
        ):
            self._tree.append(leaf_hash(link.hash))
            self._head_hash = link.hash

    async def _publish_kept(self) -> None:
        if self._published_size >= self._signed_size:
            return
        for checkpoint in await self._store.signed_checkpoints(after_size=self._published_size):
            await self._copies.publish(checkpoint)
            self._published_size = checkpoint.tree_size


@contextlib.asynccontextmanager
async def checkpoint_copies(settings: Settings) -> AsyncIterator[CheckpointCopies]:
    """The bus copy over a connection of its own, for commands (verify, the API).

    Raises:
        StackNotFound: no NATS is configured or running.
    """
    client = NatsClient()
    await client.connect(
        settings.resolved_nats_url(),
        connect_timeout=2,
        max_reconnect_attempts=1,
        **service_connect_options(settings.nats_service_seed(), tls=settings.nats_tls_context()),
    )
    try:
        yield CheckpointCopies(client.jetstream(), stream=settings.checkpoint_stream)
    finally:
        await client.close()


async def run_checkpointer(settings: Settings, store: EventStore) -> None:
    """The relay process's checkpointer, on a bus connection of its own, until cancelled.

    A missing signing key or a log that no longer matches its checkpoints ends
    it with an error in the log; the relay goes on relaying either way.
    """
    try:
        signer = CheckpointSigner(signing_key(settings))
    except AuditKeyError as e:
        logger.error("no checkpoints will be signed: %s", e)
        return
    client = NatsClient()
    # Quietly: the relay beside it already says when NATS is away.
    await retry_until_it_works(
        "reach NATS",
        lambda: client.connect(
            settings.resolved_nats_url(),
            connect_timeout=2,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            **service_connect_options(
                settings.nats_service_seed(), tls=settings.nats_tls_context()
            ),
        ),
        backoff=Backoff(first=1.0, longest=1.0),
        logger=logger,
        retried=_PASSING_FAILURES,
        first_failure_level=logging.DEBUG,
    )
    checkpointer = Checkpointer(
        store,
        signer,
        CheckpointCopies(client.jetstream(), stream=settings.checkpoint_stream),
        every_events=settings.checkpoint_every_events,
        every_seconds=settings.checkpoint_every_seconds,
    )
    try:
        await checkpointer.run()
    except LogDiffersFromCheckpoint as e:
        logger.critical("%s", e)
    finally:
        with contextlib.suppress(*_PASSING_FAILURES):
            async with asyncio.timeout(2.0):
                await client.close()
