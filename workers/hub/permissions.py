"""Which roles may do what at sharehub's front doors: one table for the API and the CLI.

The workflow's validators stay the authority on each action (an officer may
decide but only a manager may sign off; only the referring agency may withdraw
its own request …). This table only keeps a client out of whole areas that are
not its business, with the same answer whichever door it knocks on.

    NotPermitted    the client's role may not do this
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from workflows.models import HUB_STAFF, Role


class Work(enum.StrEnum):
    """An area of work a client may be let into; the value completes "only a … may …"."""

    RAISE_REQUESTS = "raise share requests"
    FOLLOW_OWN_REQUESTS = "follow the requests its agency raised"
    RECEIVE_DISCLOSURES = "receive and acknowledge disclosures"
    READ_HUB_QUEUE = "read the hub's queue"
    SEE_REQUEST_IN_FULL = "see a share request in full"
    ACT_FOR_THE_HUB = "act on a share request for the hub"
    GIVE_ADVICE = "answer advice requests"
    AUDIT = "audit the event log"


_AGENCY = frozenset({Role.AGENCY})

PERMITTED: Mapping[Work, frozenset[Role]] = MappingProxyType(
    {
        Work.RAISE_REQUESTS: _AGENCY,
        Work.FOLLOW_OWN_REQUESTS: _AGENCY,
        Work.RECEIVE_DISCLOSURES: _AGENCY,
        Work.READ_HUB_QUEUE: HUB_STAFF,
        Work.SEE_REQUEST_IN_FULL: HUB_STAFF,
        Work.ACT_FOR_THE_HUB: HUB_STAFF,
        Work.GIVE_ADVICE: frozenset({Role.IG_ADVISOR}),
        Work.AUDIT: frozenset({Role.AUDITOR}),
    }
)


class NotPermitted(Exception):
    def __init__(self, work: Work, role: Role) -> None:
        allowed = " or ".join(sorted(r.value for r in PERMITTED[work]))
        super().__init__(f"only {_a(allowed)} may {work.value}, not {_a(role.value)}")
        self.work = work
        self.role = role


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def permitted(role: Role, work: Work) -> bool:
    return role in PERMITTED[work]


def require(role: Role, work: Work) -> None:
    """Raises:
    NotPermitted: ``role`` is not let into ``work``.
    """
    if not permitted(role, work):
        raise NotPermitted(work, role)
