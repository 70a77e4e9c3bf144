"""The hub's actions as a person sends them: the workflow's own input models without ``actor``.

Who acts is the authenticated client (the API's key, the console's session, the
operator's ``--key``), never something a body can claim; each door adds it as
``action(actor=client.participant(), **body)``. The HTTP API documents these bodies
(``TriageBody`` … in the OpenAPI document) and the operator CLI validates its
options and files with them, so both doors hold input to the same rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from workflows.models import (
    GiveAdvice,
    RecordDecision,
    RecordFamilyStep,
    SeekAdvice,
    SignOff,
    Triage,
    Withdraw,
)


def _without_actor(action: type[BaseModel], *, drop: tuple[str, ...] = ()) -> Any:
    """``action``'s fields but ``actor`` (and ``drop``), as a body model of its own."""
    fields: dict[str, Any] = {
        name: (field.annotation, field)
        for name, field in action.model_fields.items()
        if name != "actor" and name not in drop
    }
    return create_model(
        f"{action.__name__}Body",
        __config__=ConfigDict(frozen=True, extra="forbid"),
        __doc__=action.__doc__,
        **fields,
    )


TriageBody = _without_actor(Triage)
SeekAdviceBody = _without_actor(SeekAdvice)
GiveAdviceBody = _without_actor(GiveAdvice, drop=("advice_id",))
DecisionBody = _without_actor(RecordDecision)
SignOffBody = _without_actor(SignOff)
FamilyStepBody = _without_actor(RecordFamilyStep)
WithdrawBody = _without_actor(Withdraw)
