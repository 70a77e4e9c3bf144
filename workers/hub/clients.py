"""API clients and their keys: who may call sharehub, in which role, for which agency.

A key reads ``shk_<client id hex>_<secret>``. The client id says where to look;
only the SHA-256 of the secret is recorded (``ApiClientCreated``), so the key is
shown once, at creation, and never again. Creating and revoking a client are
events in the log like everything else, so the access rules have a history too.

    ApiClientError
     ├── InvalidClient      a role without its agency, an agency unknown to the agreement
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
from workflows.models import Participant, Role
from workflows.policy import DataSharingAgreement

KEY_PREFIX = "shk"


class ApiClientError(Exception):
    """Root of every error about API clients."""


class InvalidClient(ApiClientError):
    pass


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

    def participant(self) -> Participant:
        """The person (or agency system) this client acts as in the workflow."""
        return Participant(id=self.name, role=self.role, agency=self.agency)

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
    ) -> tuple[ApiClient, str]:
        """A new client and its key (shown once)."""
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
        client = ApiClient(client_id=uuid4(), name=name.strip(), role=role, agency=agency)
        secret = secrets.token_urlsafe(32)
        created = ApiClientCreated(
            client_id=client.client_id,
            name=client.name,
            role=role.value,
            agency=agency,
            key_hash=_secret_hash(secret),
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
    )
