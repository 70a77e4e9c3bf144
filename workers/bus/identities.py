"""Who may connect to NATS: nkey identities for agencies and for sharehub itself.

Every connection to sharehub's NATS server names an nkey user (an Ed25519 key pair
in the NATS ecosystem's encoding): the server holds only public keys ("U…") and
asks each client to sign a nonce with its seed ("SU…"). There are two kinds:

- **an agency's credential**, issued with the agency's API client
  (``sharehub keys create --role agency``): the seed is shown once and never kept;
  the public key is recorded as :class:`~events.access.BusCredentialIssued` in the
  client's stream, so the log says who could connect as which agency, and revoking
  the client revokes the credential;
- **sharehub's service identity**, which its own processes share: a setting in
  production (``SHAREHUB_NATS_SEED``), generated once under the home folder for a
  local stack.

What each may do is :mod:`workers.bus.server_config`'s.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import nkeys
from faststream.nats import NatsNKey

from events.access import (
    ApiClientCreated,
    ApiClientRevoked,
    BusCredentialIssued,
    access_events,
    api_client_stream,
)
from events.envelope import Actor
from workers.bus.streams import agency_inbox_prefix

if TYPE_CHECKING:
    from events.store import EventStore

SERVICE_INBOX_PREFIX = "_INBOX_sharehub"


def new_seed() -> str:
    """A new nkey user seed (``SU…``): the secret half of a bus identity."""
    seed: bytes = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    return seed.decode()


def public_key_of(seed: str) -> str:
    """The public key (``U…``) the server knows the holder of ``seed`` by.

    Raises:
        ValueError: ``seed`` is not an nkey user seed.
    """
    try:
        pair = nkeys.from_seed(seed.strip().encode())
        public = str(pair.public_key.decode())
    except (nkeys.NkeysError, ValueError, TypeError) as error:
        raise ValueError("not an nkey seed") from error
    if not public.startswith("U"):
        raise ValueError("not an nkey user seed (it should start with SU)")
    return public


def service_connect_options(seed: str, *, tls: ssl.SSLContext | None = None) -> dict[str, Any]:
    """What sharehub's own processes give ``nats.connect``: the service identity, and
    ``tls`` (``Settings.nats_tls_context``) for a server behind a private CA."""
    options: dict[str, Any] = {"nkeys_seed_str": seed, "inbox_prefix": SERVICE_INBOX_PREFIX}
    if tls is not None:
        options["tls"] = tls
    return options


def service_broker_options(seed: str, *, tls: ssl.SSLContext | None = None) -> dict[str, Any]:
    """What sharehub's own processes give a FastStream ``NatsBroker``."""
    return {
        "security": NatsNKey.from_seed(seed, ssl_context=tls),
        "inbox_prefix": SERVICE_INBOX_PREFIX,
    }


def agency_connect_options(agency: str, seed: str) -> dict[str, Any]:
    """What an agency's system gives ``nats.connect``: its seed, and the one inbox
    prefix its credential may receive answers on."""
    return {"nkeys_seed_str": seed, "inbox_prefix": agency_inbox_prefix(agency)}


@dataclass(frozen=True, kw_only=True)
class AgencyCredential:
    """An issued, unrevoked agency credential: what the server configuration lists."""

    client_id: UUID
    agency: str
    public_key: str


class BusCredentials:
    """Issues agency credentials and lists the ones in force, from the event log."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    async def issue(self, client_id: UUID, *, issued_by: Actor) -> str:
        """A new credential for the agency client ``client_id``; returns its seed.

        The seed is not kept anywhere: show it once to whoever runs the agency's system.

        Raises:
            ValueError: the client is unknown, revoked, not an agency's, or has a
                credential already.
        """
        stream = api_client_stream(client_id)
        recorded = await self._store.read_stream(stream)
        created: ApiClientCreated | None = None
        for event in map(access_events.decode, recorded):
            if isinstance(event, ApiClientRevoked):
                raise ValueError(f"API client {client_id} is revoked")
            if isinstance(event, BusCredentialIssued):
                raise ValueError(f"API client {client_id} has a bus credential already")
            if isinstance(event, ApiClientCreated):
                created = event
        if created is None:
            raise ValueError(f"no API client {client_id}")
        if created.role != "agency" or created.agency is None:
            raise ValueError(f"API client {client_id} is not an agency's")
        seed = new_seed()
        issued = BusCredentialIssued(
            client_id=client_id, agency=created.agency, public_key=public_key_of(seed)
        )
        await self._store.append(
            stream, [issued.to_new_event(actor=issued_by)], expected_version=len(recorded)
        )
        return seed

    async def in_force(self) -> list[AgencyCredential]:
        """Every issued credential whose client is not revoked, oldest first."""
        events = await self._store.read_types(
            ["BusCredentialIssued", "ApiClientRevoked"], sealed=True
        )
        issued: dict[UUID, AgencyCredential] = {}
        revoked: set[UUID] = set()
        for event in map(access_events.decode, events):
            if isinstance(event, BusCredentialIssued):
                issued[event.client_id] = AgencyCredential(
                    client_id=event.client_id, agency=event.agency, public_key=event.public_key
                )
            elif isinstance(event, ApiClientRevoked):
                revoked.add(event.client_id)
        return [credential for key, credential in issued.items() if key not in revoked]
