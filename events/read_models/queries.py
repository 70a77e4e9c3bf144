"""Every SQL statement that reads the read models, in one place.

The read models are tables the projector (:mod:`events.read_models.projector`)
folds from the log; the event store's ``query`` runs these statements against them.
Callers never write SQL of their own: they ask here, by name, with keyword arguments.
Lists are keyset-paged: ``after``/``before`` is the sort key of the last row seen.

Three tables here are not folded from the log: ``idempotency_keys`` (the same
migration), where raising remembers each client's idempotency keys, and
``request_id_owners`` and ``api_client_names`` (``0006``), which make a request id
belong to one agency and a client's name to one person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from events.postgres import PostgresEventStore
from events.read_models.projector import CHECKPOINT


@runtime_checkable
class ReadModelQueries(Protocol):
    """A store that can also answer read-model queries (``PostgresEventStore`` can)."""

    async def query(self, query: str, *args: Any) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, kw_only=True)
class DecidedInView:
    """Requests the read models show decided in a period, and how far they are built."""

    request_ids: frozenset[UUID]
    applied_up_to: int


# One statement, so one snapshot: the view holds exactly the events up to the
# checkpoint it returns, and the log is scanned from just after it. The agency test
# is wider than the report's (asked-for recipients include every decided share);
# the rows themselves are filtered exactly.
_DECIDED_IN_VIEW = """
SELECT
    coalesce((SELECT position FROM checkpoints WHERE name = $1), 0) AS applied_up_to,
    ARRAY(
        SELECT request_id FROM share_request_view
        WHERE decided_at >= $2 AND decided_at < $3
          AND ($4::text IS NULL OR referrer_agency = $4 OR recipients ? $4)
    ) AS request_ids
"""


async def decided_in_view(
    store: ReadModelQueries, *, start: datetime, end: datetime, agency: str | None
) -> DecidedInView:
    """Requests decided in ``[start, end)`` (raised by or shared with ``agency``, if given)."""
    [view] = await store.query(_DECIDED_IN_VIEW, CHECKPOINT, start, end, agency)
    return DecidedInView(
        request_ids=frozenset(view["request_ids"]), applied_up_to=int(view["applied_up_to"])
    )


# ----------------------------------------------------------------------- share requests

Row = dict[str, Any]


async def share_request(store: ReadModelQueries, *, request_id: UUID) -> Row | None:
    rows = await store.query("SELECT * FROM share_request_view WHERE request_id = $1", request_id)
    return rows[0] if rows else None


async def hub_queue(
    store: ReadModelQueries,
    *,
    stages: Sequence[str],
    rag: str | None,
    after: tuple[int, datetime, UUID] | None,
    limit: int,
) -> list[Row]:
    """Requests in ``stages`` by time left to act, the most urgent first; those after
    ``after`` (its ``queue_rank, queue_due_at, request_id``), at most ``limit``."""
    return await store.query(
        "SELECT * FROM share_request_view"
        " WHERE stage = ANY($1::text[]) AND ($2::text IS NULL OR rag = $2)"
        " AND ($3::smallint IS NULL OR (queue_rank, queue_due_at, request_id) > ($3, $4, $5))"
        " ORDER BY queue_rank, queue_due_at, request_id LIMIT $6",
        list(stages),
        rag,
        *(after or (None, None, None)),
        limit,
    )


async def raised_by(
    store: ReadModelQueries,
    *,
    agency: str,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Row]:
    """Requests ``agency`` raised, the newest first; those before ``before``
    (its ``raised_at, request_id``), at most ``limit``."""
    return await store.query(
        "SELECT * FROM share_request_view WHERE referrer_agency = $1"
        " AND ($2::timestamptz IS NULL OR (raised_at, request_id) < ($2, $3))"
        " ORDER BY raised_at DESC, request_id DESC LIMIT $4",
        agency,
        *(before or (None, None)),
        limit,
    )


# ----------------------------------------------------------------------- disclosures


async def disclosure(store: ReadModelQueries, *, disclosure_id: UUID) -> Row | None:
    rows = await store.query(
        "SELECT * FROM disclosure_view WHERE disclosure_id = $1", disclosure_id
    )
    return rows[0] if rows else None


async def disclosures_of_request(store: ReadModelQueries, *, request_id: UUID) -> list[Row]:
    return await store.query(
        "SELECT * FROM disclosure_view WHERE request_id = $1 ORDER BY agency", request_id
    )


async def disclosures_to(
    store: ReadModelQueries,
    *,
    agency: str,
    before: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Row]:
    """Disclosures sent to ``agency``, the newest first; those before ``before``
    (its ``sent_at, disclosure_id``), at most ``limit``."""
    return await store.query(
        "SELECT * FROM disclosure_view WHERE agency = $1"
        " AND ($2::timestamptz IS NULL OR (sent_at, disclosure_id) < ($2, $3))"
        " ORDER BY sent_at DESC, disclosure_id DESC LIMIT $4",
        agency,
        *(before or (None, None)),
        limit,
    )


# ----------------------------------------------------------------------- advice


async def advice_request(store: ReadModelQueries, *, advice_id: UUID) -> Row | None:
    rows = await store.query("SELECT * FROM advice_view WHERE advice_id = $1", advice_id)
    return rows[0] if rows else None


async def advice_of_request(store: ReadModelQueries, *, request_id: UUID) -> list[Row]:
    return await store.query(
        "SELECT * FROM advice_view WHERE request_id = $1 ORDER BY sought_at", request_id
    )


async def advice_inbox(
    store: ReadModelQueries, *, after: tuple[int, datetime, UUID] | None, limit: int
) -> list[Row]:
    """Unanswered advice requests first, soonest due first; those after ``after`` (its
    ``answered_rank, due_by, advice_id``; ``answered_rank`` is 1 once answered)."""
    return await store.query(
        "SELECT *, (answered_at IS NOT NULL)::int AS answered_rank FROM advice_view"
        " WHERE ($1::int IS NULL OR ((answered_at IS NOT NULL)::int, due_by, advice_id)"
        " > ($1, $2, $3))"
        " ORDER BY (answered_at IS NOT NULL)::int, due_by, advice_id LIMIT $4",
        *(after or (None, None, None)),
        limit,
    )


# ----------------------------------------------------------------------- API clients


async def api_clients(store: ReadModelQueries) -> list[Row]:
    """Every API client, the oldest first (never a key: the view holds none)."""
    return await store.query("SELECT * FROM api_client_view ORDER BY created_at")


async def client_names(store: ReadModelQueries, *, actor_ids: Sequence[str]) -> dict[str, str]:
    """The name of each actor id that is an API client's id (others are not in it)."""
    rows = await store.query(
        "SELECT client_id::text AS client_id, name FROM api_client_view"
        " WHERE client_id::text = ANY($1::text[])",
        list(actor_ids),
    )
    return {row["client_id"]: row["name"] for row in rows}


# ----------------------------------------------------------------------- idempotency keys


@dataclass(frozen=True, kw_only=True)
class IdempotencyKeyUse:
    first: bool  # this call remembered the key
    body_digest: bytes  # the digest the key was first used with
    request_id: UUID  # the request the key was first used for


async def remember_idempotency_key(
    store: PostgresEventStore,
    *,
    client_id: UUID,
    key: str,
    body_digest: bytes,
    request_id: UUID,
) -> IdempotencyKeyUse:
    """Remember ``key`` with the body's digest, unless the client used it before."""
    async with store.transaction() as session:
        inserted = await session.fetchrow(
            "INSERT INTO idempotency_keys (client_id, key, body_digest, request_id)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, key) DO NOTHING RETURNING key",
            client_id,
            key,
            body_digest,
            request_id,
        )
        if inserted is not None:
            return IdempotencyKeyUse(first=True, body_digest=body_digest, request_id=request_id)
        first = await session.fetchrow(
            "SELECT body_digest, request_id FROM idempotency_keys"
            " WHERE client_id = $1 AND key = $2",
            client_id,
            key,
        )
    assert first is not None  # keys are never deleted
    return IdempotencyKeyUse(
        first=False, body_digest=bytes(first["body_digest"]), request_id=first["request_id"]
    )


# ----------------------------------------------------------------------- owners of chosen ids


async def own_request_id(store: PostgresEventStore, *, request_id: UUID, agency: str) -> str:
    """The agency ``request_id`` belongs to: ``agency`` if nobody had it yet (now theirs).

    A request raised before request ids had owners is in the request view: its id
    is its referrer's, not the first caller's to ask now.
    """
    async with store.transaction() as session:
        # Of two callers at once, the primary key lets one insert; the other's
        # insert waits for it, does nothing, and its next statement sees the row.
        claimed = await session.fetchrow(
            "INSERT INTO request_id_owners (request_id, agency)"
            " SELECT $1, coalesce("
            "   (SELECT referrer_agency FROM share_request_view WHERE request_id = $1), $2)"
            " ON CONFLICT (request_id) DO NOTHING RETURNING agency",
            request_id,
            agency,
        )
        if claimed is None:
            claimed = await session.fetchrow(
                "SELECT agency FROM request_id_owners WHERE request_id = $1", request_id
            )
    assert claimed is not None  # owners are never deleted
    return str(claimed["agency"])


def name_key(name: str) -> str:
    """What makes two clients' names the same name: whitespace and case aside."""
    return " ".join(name.split()).lower()


async def person_named(store: PostgresEventStore, *, name: str, new_person: UUID) -> UUID:
    """The person ``name`` belongs to: ``new_person`` if the name was free (now theirs).

    A client created before names were unique is in the client view: the name is
    the person's whose client came first, and that client's id is their person id.
    """
    key = name_key(name)
    async with store.transaction() as session:
        claimed = await session.fetchrow(
            "INSERT INTO api_client_names (name_key, person_id)"
            " SELECT $1, coalesce("
            "   (SELECT client_id FROM api_client_view"
            "    WHERE lower(regexp_replace(btrim(name), '\\s+', ' ', 'g')) = $1"
            "    ORDER BY created_at LIMIT 1), $2)"
            " ON CONFLICT (name_key) DO NOTHING RETURNING person_id",
            key,
            new_person,
        )
        if claimed is None:
            claimed = await session.fetchrow(
                "SELECT person_id FROM api_client_names WHERE name_key = $1", key
            )
    assert claimed is not None  # names are never released
    return UUID(str(claimed["person_id"]))
