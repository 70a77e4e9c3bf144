"""Recorded events as CloudEvents 1.0 on NATS: the bus's message format.

Every event of the store is published once, in structured mode (the whole
CloudEvent is the JSON body, ``content-type: application/cloudevents+json``), to
the subject ``sharehub.events.<type>``, e.g. ``sharehub.events.ShareRequestRaised``,
so a consumer can take one type (``sharehub.events.DisclosureSent``) or all
(``sharehub.events.>``), and all of them land in the JetStream stream
``SHAREHUB_EVENTS`` (names: :mod:`workers.bus.streams`).

The body is the sealed event: personal fields are still AES-GCM ciphertext under
the subject's key (``sharehub:aes256gcm:v1:…``), exactly as the store holds them
and as the hash covers them. Who did it travels as role and agency only; the
actor's own id, the data subject's key id and free-form metadata stay in the
store. Example::

    {"specversion": "1.0", "id": "4f0c…", "source": "sharehub",
     "type": "uk.sharehub.ChildIdentified", "subject": "request-1",
     "time": "2026-03-02T10:15:00.000000Z", "datacontenttype": "application/json",
     "globalposition": 7, "streamversion": 2, "schemaversion": 1,
     "recordedtime": "2026-03-02T10:15:00.012345Z", "hash": "9a3e…", "prevhash": "51b0…",
     "correlationid": "req-123", "actorrole": "hub_officer", "actoragency": "lbm-csc",
     "data": {"name": "sharehub:aes256gcm:v1:…", "area": "Mitcham"}}

Extension attribute names are lowercase letters and digits only, as CloudEvents
requires; attributes whose value is absent are left out rather than null.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from events.canonical import format_timestamp
from events.envelope import RecordedEvent

SPEC_VERSION: Final = "1.0"
SOURCE: Final = "sharehub"
TYPE_PREFIX: Final = "uk.sharehub."
CONTENT_TYPE: Final = "application/cloudevents+json"


def cloudevent_of(event: RecordedEvent) -> dict[str, Any]:
    """The CloudEvent for a sealed recorded event (see the module docstring)."""
    attributes: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": str(event.event_id),
        "source": SOURCE,
        "type": TYPE_PREFIX + event.type,
        "subject": event.stream_id,
        "time": format_timestamp(event.occurred_at),
        "datacontenttype": "application/json",
        "globalposition": event.global_position,
        "streamversion": event.stream_version,
        "schemaversion": event.schema_version,
        "recordedtime": format_timestamp(event.recorded_at),
        "hash": event.hash.hex(),
        "prevhash": event.prev_hash.hex(),
        "correlationid": event.correlation_id,
        "actorrole": event.actor.role,
        "actoragency": event.actor.agency,
        "data": event.data,
    }
    return {name: value for name, value in attributes.items() if value is not None}


def cloudevent_bytes(event: RecordedEvent) -> bytes:
    """The message body: the CloudEvent as JSON, keys sorted so a re-publish is identical."""
    return orjson.dumps(cloudevent_of(event), option=orjson.OPT_SORT_KEYS)
