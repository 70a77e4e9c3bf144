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
) -> None:
    """Create the stream, or widen an existing one to what sharehub needs.

    An existing stream keeps its operator's settings (retention, replicas,
    limits); only our subjects are added and the duplicate window raised.
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
            )
        )
        return
    present = list(config.subjects or [])
    if subjects in present and (config.duplicate_window or 0) >= window:
        return
    if subjects not in present:
        present.append(subjects)
    config.subjects = present
    config.duplicate_window = max(config.duplicate_window or 0, window)
    await streams.update_stream(config)
