"""Every JetStream stream and subject sharehub uses, named once.

The bus contract in one place: the modules that create, publish to or consume
a stream import its names from here, and so do the AsyncAPI document and the
demo's stand-in agencies. ``<agency>`` is an agency id of the data sharing
agreement.

- ``SHAREHUB_EVENTS``: ``sharehub.events.<EventType>``, every recorded event as a
  CloudEvent (:mod:`workers.bus.relay`);
- ``SHAREHUB_AGENCIES``: ``sharehub.agency.<agency>.disclosures``, notices to each
  agency (:mod:`workers.bus.notices`);
- ``SHAREHUB_INTAKE``: ``sharehub.intake.<agency>.requests`` and
  ``sharehub.intake.<agency>.acknowledgements``, what agencies send
  (:mod:`workers.bus.intake`);
- ``SHAREHUB_REPLIES``: ``sharehub.replies.<agency>``, the answer to each of them;
- ``SHAREHUB_DEAD_LETTERS``: ``sharehub.dead-letter.intake.<agency>``, intake
  messages that kept failing, for the hub's operators;
- ``SHAREHUB_CHECKPOINTS``: ``sharehub.checkpoints``, signed checkpoints
  (:mod:`workers.audit.checkpointer`).

Agencies read their notices and replies through durable consumers sharehub keeps
for each (:func:`agency_notices_consumer`, :func:`agency_replies_consumer`), on
connections whose inbox prefix is their own (:func:`agency_inbox_prefix`).

An agency's notice subject is not built here: the agreement names it
(``bus_subject``), and it must lie under :data:`AGENCIES_SUBJECTS`. The
checkpoint stream's name is a setting (``checkpoint_stream``), whose default is
:data:`CHECKPOINTS_STREAM`.

The builders take ``"*"`` for a stream's subject pattern and ``"{agency}"`` for
a FastStream path (the AsyncAPI document's channel addresses).
"""

from __future__ import annotations

import re
from typing import Final

# --- every recorded event, as a CloudEvent ---------------------------------------------

EVENTS_STREAM: Final = "SHAREHUB_EVENTS"
_EVENTS_PREFIX: Final = "sharehub.events."
EVENTS_SUBJECTS: Final = _EVENTS_PREFIX + ">"

# A NATS subject token may not hold dots, wildcards or whitespace; event types are
# CamelCase names, so this only guards against a type nobody should have chosen.
_NOT_IN_A_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


def event_subject(event_type: str) -> str:
    """The subject on which events of ``event_type`` are published."""
    return _EVENTS_PREFIX + (_NOT_IN_A_TOKEN.sub("_", event_type) or "_")


# --- notices to agencies, each on the subject the agreement gives it -------------------

AGENCIES_STREAM: Final = "SHAREHUB_AGENCIES"
AGENCIES_SUBJECTS: Final = "sharehub.agency.>"


# --- bus intake: agencies raise and acknowledge; each message is answered -------------

INTAKE_STREAM: Final = "SHAREHUB_INTAKE"
REPLIES_STREAM: Final = "SHAREHUB_REPLIES"
DEAD_LETTERS_STREAM: Final = "SHAREHUB_DEAD_LETTERS"


def requests_subject(agency: str) -> str:
    """Where ``agency`` raises share requests."""
    return f"sharehub.intake.{agency}.requests"


def acknowledgements_subject(agency: str) -> str:
    """Where ``agency`` acknowledges the disclosures sent to it."""
    return f"sharehub.intake.{agency}.acknowledgements"


def replies_subject(agency: str) -> str:
    """Where ``agency`` is answered, for every intake message it sent."""
    return f"sharehub.replies.{agency}"


def dead_letter_subject(agency: str) -> str:
    """Where ``agency``'s intake messages that kept failing are kept for operators."""
    return f"sharehub.dead-letter.intake.{agency}"


# Only these two subjects per agency are in the intake stream: a publish to any
# other sharehub.intake subject fails at the publisher instead of lying unread.
REQUESTS_SUBJECTS: Final = requests_subject("*")
ACKNOWLEDGEMENTS_SUBJECTS: Final = acknowledgements_subject("*")
REPLIES_SUBJECTS: Final = replies_subject("*")
DEAD_LETTERS_SUBJECTS: Final = "sharehub.dead-letter.>"


# --- what each agency reads with its own credential -----------------------------------
# An agency may not create consumers (nor read a stream's messages by number): sharehub
# keeps one durable pull consumer per agency on each stream it reads, filtered to its
# subject, and the agency's credential may fetch from and ack on those two alone.


def agency_notices_consumer(agency: str) -> str:
    """The durable consumer of ``SHAREHUB_AGENCIES`` that ``agency`` reads its notices from."""
    return f"notices-{agency}"


def agency_replies_consumer(agency: str) -> str:
    """The durable consumer of ``SHAREHUB_REPLIES`` that ``agency`` reads its answers from."""
    return f"replies-{agency}"


def agency_inbox_prefix(agency: str) -> str:
    """The inbox prefix of ``agency``'s connections: answers to its requests (a publish's
    acknowledgement, a fetch's messages) come there, and nobody else may read them."""
    return f"_INBOX_{agency}"


# --- signed checkpoints, kept off the database -----------------------------------------

CHECKPOINTS_STREAM: Final = "SHAREHUB_CHECKPOINTS"
CHECKPOINTS_SUBJECT: Final = "sharehub.checkpoints"


def checkpoints_subject(stream: str) -> str:
    """The subject of the checkpoint stream named ``stream`` (a setting).

    One subject per stream, since JetStream streams may not share subjects: the
    default stream has ``sharehub.checkpoints``, any other a subject of its own.
    """
    if stream == CHECKPOINTS_STREAM:
        return CHECKPOINTS_SUBJECT
    return f"{CHECKPOINTS_SUBJECT}.{stream}"
