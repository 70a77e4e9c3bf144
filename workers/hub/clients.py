"""API clients and their keys: who may call sharehub, in which role, for which agency.

A client is one key of one person (or agency system). Names are unique per
deployment (one name, one person, for good). Events record the client's id as
their actor; views show its name (before, events recorded the name itself, which
old events keep). A person may hold a second key (another
device, a key rotated before the old one is revoked): it is created for the
existing name on purpose (``another_key``) and carries the same person id, which
is what the four-eyes rule compares.

A key reads ``shk_<client id hex>_<secret>``. The client id says where to look;
only the SHA-256 of the secret is recorded (``ApiClientCreated``), so the key is
shown once, at creation, and never again. Creating and revoking a client are
events in the log like everything else, so the access rules have a history too.

    ApiClientError
     ├── InvalidClient      a role without its agency, an agency unknown to the agreement
     ├── NameInUse          the name is another person's (or the person's, unasked)
     └── UnknownClient      no client with that id
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID, uuid4

from events.access import (
    ApiClientCreated,
    ApiClientRevoked,
    access_events,
    api_client_stream,
)
from events.envelope import Actor
from events.postgres import PostgresEventStore
from events.read_models.queries import person_named
from workflows.models import Participant, Role
from workflows.policy import DataSharingAgreement

KEY_PREFIX = "shk"


class ApiClientError(Exception):
    """Root of every error about API clients."""


class InvalidClient(ApiClientError):
    pass


class NameInUse(ApiClientError):
    def __init__(self, name: str, person_id: UUID) -> None:
        super().__init__(
            f"the name {name!r} is already in use (person {person_id}); names are unique. "
            "Choose another name, or, to give that same person another key, ask for "
            "another key explicitly"
        )
        self.name = name
        self.person_id = person_id


class UnknownClient(ApiClientError):
    def __init__(self, client_id: UUID) -> None:
        super().__init__(f"no API client {client_id}")
        self.client_id = client_id


@dataclass(frozen=True)
class ApiClient:
    client_id: UUID
    name: str
    role: Role
    agency: str | None
    person_id: UUID | None = None  # None: a client made before people had ids

    @property
    def person(self) -> UUID:
        """Who holds this key: the same for every key of one person."""
        return self.person_id or self.client_id

    def participant(self) -> Participant:
        """The person (or agency system) this client acts as in the workflow: the
        client's id is the actor recorded (unique, never reused); the person id and
        the name travel with it, for the four-eyes rule."""
        return Participant(
            id=str(self.client_id),
            role=self.role,
            agency=self.agency,
            person=str(self.person),
            name=self.name,
        )

    def actor(self) -> Actor:
        return self.participant().as_actor()


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _parse_key(key: str) -> tuple[UUID, str] | None:
    prefix, _, rest = key.partition("_")
    client_hex, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not secret:
        return None
    try:
        return UUID(hex=client_hex), secret
    except ValueError:
        return None


class ApiClients:
    def __init__(self, store: PostgresEventStore) -> None:
        self._store = store

    async def create(
        self,
        *,
        name: str,
        role: Role,
        agency: str | None,
        policy: DataSharingAgreement,
        created_by: Actor,
        another_key: bool = False,
    ) -> tuple[ApiClient, str]:
        """A new client and its key (shown once).

        Raises:
            InvalidClient: the name, role or agency is not valid.
            NameInUse: the name is someone's already, and ``another_key`` was not
                asked for (with it, the new key is that person's).
        """
        if not name.strip() or len(name) > 200:
            raise InvalidClient("a client's name is 1 to 200 characters")
        if role is Role.AGENCY:
            known = policy.agency(agency or "")
            if known is None:
                raise InvalidClient(
                    f"an agency client names an agency of the agreement {policy.id}; "
                    f"{agency!r} is not one"
                )
        elif agency is not None:
            raise InvalidClient(f"only agency clients have an agency, not a {role.value}")
        client_id = uuid4()
        person = await person_named(self._store, name=name, new_person=client_id)
        if person != client_id and not another_key:
            raise NameInUse(name.strip(), person)
        client = ApiClient(
            client_id=client_id, name=name.strip(), role=role, agency=agency, person_id=person
        )
        secret = secrets.token_urlsafe(32)
        created = ApiClientCreated(
            client_id=client.client_id,
            name=client.name,
            role=role.value,
            agency=agency,
            key_hash=_secret_hash(secret),
            person_id=person,
        )
        await self._store.append(
            api_client_stream(client.client_id),
            [created.to_new_event(actor=created_by)],
            expected_version=0,
        )
        return client, f"{KEY_PREFIX}_{client.client_id.hex}_{secret}"

    async def revoke(self, client_id: UUID, *, revoked_by: Actor) -> None:
        stream = api_client_stream(client_id)
        events = await self._store.read_stream(stream)
        if not events:
            raise UnknownClient(client_id)
        if any(e.type == "ApiClientRevoked" for e in events):
            return
        revoked = ApiClientRevoked(client_id=client_id)
        await self._store.append(
            stream, [revoked.to_new_event(actor=revoked_by)], expected_version=len(events)
        )

    async def authenticate(self, key: str) -> ApiClient | None:
        """The client a key belongs to, or ``None`` (unknown, revoked or wrong secret)."""
        parsed = _parse_key(key)
        if parsed is None:
            return None
        client_id, secret = parsed
        created = await self._created_unless_revoked(client_id)
        if created is None or not hmac.compare_digest(created.key_hash, _secret_hash(secret)):
            return None
        return _client(created)

    async def active(self, client_id: UUID) -> ApiClient | None:
        """The client with this id, or ``None`` when unknown or revoked (for sessions that
        were opened with its key and must end when it is revoked)."""
        created = await self._created_unless_revoked(client_id)
        return None if created is None else _client(created)

    async def _created_unless_revoked(self, client_id: UUID) -> ApiClientCreated | None:
        created: ApiClientCreated | None = None
        for recorded in await self._store.read_stream(api_client_stream(client_id)):
            event = access_events.decode(recorded)
            if isinstance(event, ApiClientRevoked):
                return None
            if isinstance(event, ApiClientCreated):
                created = event
        return created


def _client(created: ApiClientCreated) -> ApiClient:
    return ApiClient(
        client_id=created.client_id,
        name=created.name,
        role=Role(created.role),
        agency=created.agency,
        person_id=created.person_id,
    )
