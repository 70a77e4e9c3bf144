"""Every SQL statement that reads the read models, in one place.

The read models are tables the projector (:mod:`events.read_models.projector`)
folds from the log; the event store's ``query`` runs these statements against them.
Callers never write SQL of their own: they ask here, by name, with keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

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
