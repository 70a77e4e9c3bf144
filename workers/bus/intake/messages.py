"""The bus intake's message contract: what agencies send, and the answer they get.

An :class:`IntakeRaise` on ``sharehub.intake.<agency>.requests`` raises a share
request; an :class:`IntakeAcknowledgement` on
``sharehub.intake.<agency>.acknowledgements`` acknowledges a disclosure; each is
answered with an :class:`IntakeReply` on ``sharehub.replies.<agency>`` (the
subjects: :mod:`workers.bus.streams`). The agency is the subject's: no body
names it.
"""

from __future__ import annotations

import enum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, StringConstraints

from workers.hub.share_requests import ShareRequestSubmission


class IntakeRaise(BaseModel):
    """Raise a share request. The referring agency is the subject's.

    ``request_id`` is chosen by the agency (a random UUID, v4) and is the request's
    id from then on, the agency's alone; sending the same message again is
    answered ``accepted`` and raises nothing new; an id another agency used is
    answered ``rejected``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: UUID
    submission: ShareRequestSubmission


class IntakeAcknowledgement(BaseModel):
    """Acknowledge a disclosure sent to the agency (its notice's ``notice_id``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: UUID
    disclosure_id: UUID
    acknowledged_by: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]


class IntakeKind(enum.StrEnum):
    REQUEST = "request"
    ACKNOWLEDGEMENT = "acknowledgement"


class IntakeOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class IntakeReply(BaseModel):
    """The answer to one intake message, on the sending agency's replies subject."""

    model_config = ConfigDict(frozen=True)

    answers: IntakeKind
    outcome: IntakeOutcome
    request_id: UUID | None = None
    disclosure_id: UUID | None = None
    detail: str
    reasons: list[str] = []
    intake_subject: str
    # The message's sequence in SHAREHUB_INTAKE: names even an unreadable message.
    intake_sequence: int
    # The Nats-Msg-Id the agency gave the message, if it gave one.
    message_id: str | None = None


class DeadLetter(BaseModel):
    """For the hub's operators: an intake message that kept failing, by its ids.

    The message itself is not kept (it may name a child); the agency is told to send
    it again, and the operators know which one and why.
    """

    model_config = ConfigDict(frozen=True)

    answers: IntakeKind
    request_id: UUID
    disclosure_id: UUID | None = None
    reason: str
    intake_subject: str
    intake_sequence: int
    deliveries: int
    message_id: str | None = None
