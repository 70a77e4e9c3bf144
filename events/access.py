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

Events record an API client's id as their actor; what a person reads is the
client's name (:func:`client_names_in_log` where only the log may be read, the
read model ``api_client_view`` elsewhere). Events recorded before that name their
actor by the client's name, which reads as it was recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from uuid import UUID

from events.registry import DomainEvent, EventRegistry
from events.store import EventStore

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


async def client_names_in_log(store: EventStore, actor_ids: Iterable[str]) -> dict[str, str]:
    """The name of each actor id that is an API client's id, from the clients' own streams.

    For readers that must work from the log alone (the decision report, an
    auditor's replay). Ids that are not a client's (sharehub itself, an operator,
    a name recorded as the actor before clients' ids were) are not in it.
    """
    names: dict[str, str] = {}
    for actor_id in dict.fromkeys(actor_ids):
        try:
            client_id = UUID(actor_id)
        except ValueError:
            continue
        if str(client_id) != actor_id:  # a name that merely parses as one
            continue
        for event in await store.read_stream(api_client_stream(client_id)):
            if event.type == ApiClientCreated.event_type:
                names[actor_id] = str(event.data["name"])
    return names
