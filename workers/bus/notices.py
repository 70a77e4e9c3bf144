"""Notices to agencies on their own JetStream subjects (the workflow's bus side).

Each agency has a subject in the data sharing agreement
(``sharehub.agency.<id>.disclosures``); all of them live in the stream
``SHAREHUB_AGENCIES``. A notice is a reference (what was decided for the agency,
which disclosure to fetch and acknowledge), never the shared content: no names,
no identifiers, nothing personal in the headers. ``Nats-Msg-Id`` is the notice
id, so a retried activity's re-publish is dropped by JetStream.
"""

from __future__ import annotations

from datetime import timedelta

from faststream.nats import NatsBroker

from workers.bus.jetstream import ensure_stream
from workers.bus.streams import AGENCIES_STREAM, AGENCIES_SUBJECTS

DUPLICATE_WINDOW = timedelta(hours=1)


class NatsAgencyPublisher:
    """Publishes to JetStream and returns only once the server has stored the notice."""

    def __init__(self, broker: NatsBroker, *, timeout: float = 5.0) -> None:
        self._broker = broker
        self._timeout = timeout

    async def start(self) -> None:
        await self._broker.connect()
        await ensure_stream(
            self._broker.connection.jetstream(),
            name=AGENCIES_STREAM,
            subjects=AGENCIES_SUBJECTS,
            description="sharehub: notices to each partner agency on its own subject",
            duplicate_window=DUPLICATE_WINDOW,
        )

    async def publish(self, *, subject: str, message_id: str, body: bytes) -> None:
        # A failure raises: the activity is retried, with the same message id.
        await self._broker.publish(
            body,
            subject=subject,
            stream=AGENCIES_STREAM,
            headers={"Nats-Msg-Id": message_id, "content-type": "application/json"},
            timeout=self._timeout,
        )
