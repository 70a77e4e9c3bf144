"""JetStream streams sharehub publishes to, created or widened on start, and the
consumers agencies read them with."""

from __future__ import annotations

from datetime import timedelta

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from workers.bus.streams import (
    AGENCIES_STREAM,
    REPLIES_STREAM,
    agency_notices_consumer,
    agency_replies_consumer,
    replies_subject,
)
from workflows.policy import DataSharingAgreement

# How long an agency has to ack a notice or answer it fetched before it is delivered again.
ACK_WAIT = timedelta(seconds=30)


async def ensure_stream(
    streams: JetStreamContext,
    *,
    name: str,
    subjects: str,
    description: str,
    duplicate_window: timedelta,
    keep_every_message: bool = False,
) -> None:
    """Create the stream, or widen an existing one to what sharehub needs.

    An existing stream keeps its operator's settings (retention, replicas,
    limits); only our subjects are added and the duplicate window raised.
    ``keep_every_message`` makes (or tightens) it to refuse deleting or purging
    messages, for copies kept as evidence.
    """
    window = duplicate_window.total_seconds()
    try:
        config = (await streams.stream_info(name)).config
    except NotFoundError:
        await streams.add_stream(
            StreamConfig(
                name=name,
                description=description,
                subjects=[subjects],
                storage=StorageType.FILE,
                duplicate_window=window,
                deny_delete=keep_every_message,
                deny_purge=keep_every_message,
            )
        )
        return
    present = list(config.subjects or [])
    kept = not keep_every_message or bool(config.deny_delete and config.deny_purge)
    if subjects in present and (config.duplicate_window or 0) >= window and kept:
        return
    if subjects not in present:
        present.append(subjects)
    config.subjects = present
    config.duplicate_window = max(config.duplicate_window or 0, window)
    if keep_every_message:
        config.deny_delete = config.deny_purge = True
    await streams.update_stream(config)


async def ensure_agency_consumers(
    streams: JetStreamContext, policy: DataSharingAgreement, *, ack_wait: timedelta = ACK_WAIT
) -> None:
    """The durable consumers each agency reads with its own credential, created or updated.

    An agency may not create consumers, so sharehub keeps one per agency on each stream
    it reads (``SHAREHUB_AGENCIES``, ``SHAREHUB_REPLIES``), filtered to the agency's
    subject. Both streams must exist.
    """
    for agency in policy.agencies:
        for stream, consumer, subject in (
            (AGENCIES_STREAM, agency_notices_consumer(agency.id), agency.bus_subject),
            (REPLIES_STREAM, agency_replies_consumer(agency.id), replies_subject(agency.id)),
        ):
            await streams.add_consumer(
                stream,
                ConsumerConfig(
                    durable_name=consumer,
                    description=f"sharehub: what {agency.id} reads, with its own credential",
                    filter_subject=subject,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=ack_wait.total_seconds(),
                ),
            )
