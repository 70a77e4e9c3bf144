"""JetStream streams sharehub publishes to, created or widened on start."""

from __future__ import annotations

from datetime import timedelta

from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError


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
