"""Who may use sharehub, and who looked at what: API clients and the access log.

An API client is one key of one person (or agency system), with one role and,
for an agency, its agency id. A person may hold several keys; each carries the
person's id (``person_id``; absent from clients created before people had ids,
whose person id is then their own client id), so that the four-eyes rule can
tell one person with two keys from two people. A key is never stored: only
``key_hash``, the SHA-256 of the secret half (a 256-bit random value, so a fast
hash is enough; there is nothing to guess). Each client has its own stream
(``api-client-<uuid>``), so authentication reads two events at most.

Every read of a request or a disclosure by a person is a ``RecordViewed`` event
in the stream ``access-log-<request uuid>``: the request's own stream belongs
to its workflow, whose appends expect a version.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from events.registry import DomainEvent, EventRegistry

access_events = EventRegistry()

ApiRole = Literal["agency", "hub_officer", "hub_manager", "ig_advisor", "auditor", "admin"]


def api_client_stream(client_id: UUID) -> str:
    return f"api-client-{client_id}"


def access_log_stream(request_id: UUID) -> str:
    return f"access-log-{request_id}"


@access_events.event
class ApiClientCreated(DomainEvent):
    event_type = "ApiClientCreated"

    client_id: UUID
    name: str
    role: ApiRole
    agency: str | None
    key_hash: str  # hex SHA-256 of the key's secret
    person_id: UUID | None = None  # None: the client's own id (clients made before people)


@access_events.event
class ApiClientRevoked(DomainEvent):
    event_type = "ApiClientRevoked"

    client_id: UUID


@access_events.event
class BusCredentialIssued(DomainEvent):
    """An agency client's NATS identity: an nkey user whose seed the agency alone holds.

    Kept in the client's stream, so revoking the client (``ApiClientRevoked``) revokes
    it too; only the public key is recorded, which is all the NATS server needs.
    """

    event_type = "BusCredentialIssued"

    client_id: UUID
    agency: str
    public_key: str  # the nkey user's public key, "U…"


@access_events.event
class RecordViewed(DomainEvent):
    """A person read a request or a disclosure: the access log (golden rule 7's "who")."""

    event_type = "RecordViewed"

    request_id: UUID
    record: Literal["share_request", "disclosure", "share_request_state", "decision_report"]
    record_id: UUID
    via: str  # e.g. "GET /v1/hub/share-requests/{id}"
