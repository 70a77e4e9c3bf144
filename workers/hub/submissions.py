"""Raising a request from an agency's submission: checked first, once per idempotency key.

The HTTP API and the operator CLI both come through here, so an idempotency key
means the same request whichever door it used. With a key, the request id is
``uuid5(client id, key)``: a repeat can never start a second workflow, even if
the first call's answer was lost on the way. The key is remembered with a
digest of the body only after the request passed its checks, so a refused raise
leaves nothing behind; the same key with another body is refused.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from uuid import UUID

from events.postgres import PostgresEventStore
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

_IDEMPOTENT_REQUESTS = UUID("5b4f2c1e-8f0a-4c3e-9a57-1d2b6e0c7a11")


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
) -> Raised:
    """Raise ``submission`` for ``agency``'s agency.

    Raises:
        RequestRejected: every problem; nothing recorded, the key not remembered.
        IdempotencyKeyReused: the key was used for another body.
    """
    assert agency.agency is not None  # only agency clients raise
    if idempotency_key is None:
        request_id = uuid.uuid4()
    else:
        request_id = uuid.uuid5(_IDEMPOTENT_REQUESTS, f"{agency.client_id}:{idempotency_key}")
    request = submission.as_request(request_id=request_id, agency=agency.agency)
    problems = raise_problems(request, service.policy)
    if problems:
        raise RequestRejected(problems)
    if idempotency_key is not None and not await _first_use(
        store, agency, idempotency_key, submission, request_id
    ):
        return Raised(request_id, replayed=True)
    try:
        await service.raise_request(request)
    except RequestAlreadyRaised:
        if idempotency_key is None:
            raise
        # The first call with this key stopped after starting the workflow.
    return Raised(request_id, replayed=False)


async def _first_use(
    store: PostgresEventStore,
    agency: ApiClient,
    key: str,
    submission: ShareRequestSubmission,
    request_id: UUID,
) -> bool:
    """Remember the key with a digest of the body; False if it was used before with it."""
    digest = hashlib.sha256(
        json.dumps(submission.model_dump(mode="json"), sort_keys=True).encode()
    ).digest()
    use = await remember_idempotency_key(
        store, client_id=agency.client_id, key=key, body_digest=digest, request_id=request_id
    )
    if use.body_digest != digest:
        raise IdempotencyKeyReused(key)
    return use.first
