"""Raising a request from an agency's submission: checked first, once per idempotency key.

The HTTP API and the operator CLI both come through here, so an idempotency key
means the same request whichever door it used. With a key, the request id is an
HMAC of the client id and the key under the deployment's secret
(``SHAREHUB_REQUEST_ID_SECRET``): a repeat can never start a second workflow,
even if the first call's answer was lost on the way, and no other agency can
work out the id in advance. The key is remembered with a digest of the body
only after the request passed its checks, so a refused raise leaves nothing
behind; the same key with another body is refused.

A request id belongs to the agency that raised it first, whichever door it
came through (:func:`own_request_id`, which bus intake calls too): a raise with
an id that is another agency's is refused (``RequestIdTaken``), never answered
as if it were the caller's own request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from uuid import UUID

from events.postgres import PostgresEventStore
from events.read_models import queries
from events.read_models.queries import remember_idempotency_key
from workers.hub.clients import ApiClient
from workers.hub.share_requests import (
    RequestAlreadyRaised,
    RequestRejected,
    ShareRequestService,
    ShareRequestServiceError,
    ShareRequestSubmission,
)
from workflows.raising import raise_problems


class RequestIdTaken(ShareRequestServiceError):
    """The request id is another agency's: nothing was raised, nothing recorded."""

    def __init__(self, request_id: UUID) -> None:
        super().__init__(
            f"request id {request_id} is already used by another agency's request; "
            "choose a new id (a random UUID)"
        )
        self.request_id = request_id


class IdempotencyKeyReused(ShareRequestServiceError):
    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} was used for a different share request; use a new key")
        self.key = key


@dataclass(frozen=True)
class Raised:
    request_id: UUID
    replayed: bool  # the key was used before with this body: the first answer again


async def raise_submission(
    service: ShareRequestService,
    store: PostgresEventStore,
    *,
    agency: ApiClient,
    submission: ShareRequestSubmission,
    idempotency_key: str | None,
    id_secret: bytes,
) -> Raised:
    """Raise ``submission`` for ``agency``'s agency.

    ``id_secret`` is the deployment's secret idempotent request ids are derived
    with (``Settings.request_id_secret_bytes``).

    Raises:
        RequestRejected: every problem; nothing recorded, the key not remembered.
        RequestIdTaken: the id is another agency's; nothing recorded, the key not
            remembered.
        IdempotencyKeyReused: the key was used for another body.
    """
    assert agency.agency is not None  # only agency clients raise
    if idempotency_key is None:
        request_id = uuid.uuid4()
    else:
        request_id = idempotent_request_id(id_secret, agency.client_id, idempotency_key)
    request = submission.as_request(request_id=request_id, agency=agency.agency)
    problems = raise_problems(request, service.policy)
    if problems:
        raise RequestRejected(problems)
    await own_request_id(store, request_id, agency=agency.agency)
    if idempotency_key is not None:
        first_request_id = await _first_use(store, agency, idempotency_key, submission, request_id)
        if first_request_id is not None:
            # The request the key raised first (its id derived the way it was then).
            return Raised(first_request_id, replayed=True)
    try:
        await service.raise_request(request)
    except RequestAlreadyRaised:
        if idempotency_key is None:
            raise
        # The first call with this key stopped after starting the workflow.
    return Raised(request_id, replayed=False)


def idempotent_request_id(secret: bytes, client_id: UUID, key: str) -> UUID:
    """The request id of ``client_id``'s raise with idempotency ``key``.

    Keyed with the deployment's secret, so an agency that knows another's client
    id and guesses its keys still cannot name its next request id in advance.
    """
    mac = hmac.new(secret, f"request-id:{client_id}:{key}".encode(), hashlib.sha256).digest()
    return uuid.UUID(bytes=mac[:16], version=4)


async def own_request_id(store: PostgresEventStore, request_id: UUID, *, agency: str) -> None:
    """Make ``request_id`` ``agency``'s, unless it is another agency's already.

    Raises:
        RequestIdTaken: another agency raised (or is raising) a request with it.
    """
    if await queries.own_request_id(store, request_id=request_id, agency=agency) != agency:
        raise RequestIdTaken(request_id)


class RequestIdOwners:
    """Request ids' owners, for a door that has no client to raise as (bus intake)."""

    def __init__(self, store: PostgresEventStore) -> None:
        self._store = store

    async def own(self, request_id: UUID, *, agency: str) -> None:
        """See :func:`own_request_id`."""
        await own_request_id(self._store, request_id, agency=agency)


async def _first_use(
    store: PostgresEventStore,
    agency: ApiClient,
    key: str,
    submission: ShareRequestSubmission,
    request_id: UUID,
) -> UUID | None:
    """Remember the key with a digest of the body; if it was used before with it, the
    request it raised then."""
    digest = hashlib.sha256(
        json.dumps(submission.model_dump(mode="json"), sort_keys=True).encode()
    ).digest()
    use = await remember_idempotency_key(
        store, client_id=agency.client_id, key=key, body_digest=digest, request_id=request_id
    )
    if use.body_digest != digest:
        raise IdempotencyKeyReused(key)
    return None if use.first else use.request_id
