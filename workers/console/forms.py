"""Posted forms, turned into the workflow's own input models; what is wrong, per field.

Each hub action has an :class:`ActionForm`: how its fields read from the form, and
how each field is named in an error message. The fields are validated by the very
model the API validates (``Triage``, ``RecordDecision`` …, with the signed-in person
as ``actor``), so a form and a JSON body are held to the same rules; a field that is
wrong comes back as a :class:`FieldError` whose ``field`` is the id of the input the
GOV.UK error summary links to. Empty text is ``None`` for optional fields, and left
empty (so "too short") for required ones, which then read "Enter …".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from workers.hub.clients import ApiClient
from workflows.models import (
    Close,
    GiveAdvice,
    RecordDecision,
    RecordFamilyStep,
    SeekAdvice,
    SignOff,
    Triage,
    Withdraw,
)
from workflows.policy import DecisionOutcome

Row = Mapping[str, Any]


@dataclass(frozen=True)
class FieldError:
    field: str  # the id of the input to link to; "" for the form as a whole
    text: str

    def summary_item(self, form_id: str) -> dict[str, str]:
        return {"text": self.text, "href": f"#{self.field or form_id}"}


class FormProblems(Exception):
    """What is wrong with a posted form, field by field (nothing was done)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(e.text for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Field:
    label: str  # as a sentence's subject: "Rationale"
    when_empty: str  # GOV.UK's "Enter …" / "Select …"
    input_id: str = ""  # when the input's id is not the field's name


@dataclass(frozen=True)
class ActionForm:
    """One action's form: the model it fills, and how to read it."""

    name: str  # the path segment and the form's id
    model: type[BaseModel]
    title: str
    read: Callable[[FormData, Row], dict[str, Any]]
    fields: Mapping[str, Field] = field(default_factory=dict)

    def build(self, form: FormData, row: Row, person: ApiClient) -> BaseModel:
        """The action, acting as ``person``.

        Raises:
            FormProblems: every field that is wrong.
        """
        values = self.read(form, row)
        try:
            return self.model.model_validate({"actor": person.participant(), **values})
        except ValidationError as e:
            raise FormProblems(field_errors(e, self.fields, values)) from e


def field_errors(
    error: ValidationError, fields: Mapping[str, Field], values: Mapping[str, Any]
) -> list[FieldError]:
    found: dict[str, FieldError] = {}
    for problem in error.errors():
        location = problem.get("loc", ())
        name = str(location[0]) if location else ""
        if name in found:
            continue  # one message per field, as GOV.UK asks
        spec = fields.get(name)
        if spec is None:
            found[name] = FieldError("", str(problem.get("msg", "")).removeprefix("Value error, "))
            continue
        target = spec.input_id or name
        context = problem.get("ctx") or {}
        kind = problem.get("type")
        if _is_empty(values.get(name)):
            text = spec.when_empty
        elif kind == "string_too_short":
            text = f"{spec.label} must be {context.get('min_length')} characters or more"
        elif kind == "string_too_long":
            text = f"{spec.label} must be {context.get('max_length')} characters or fewer"
        elif kind in ("enum", "literal_error"):
            text = spec.when_empty
        else:
            text = f"{spec.label}: {problem.get('msg', '')}"
        found[name] = FieldError(target, text)
    return list(found.values())


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return not value or all(_is_empty(v) for v in value)
    return False


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def lines(form: FormData, name: str) -> tuple[str, ...]:
    """A textarea of one item per line, blank lines dropped."""
    return tuple(line.strip() for line in text(form, name).splitlines() if line.strip())


def form_values(form: FormData) -> dict[str, Any]:
    """The form as it was posted, to show it again: lists for repeated fields."""
    values: dict[str, Any] = {}
    for key in form:
        got = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = got if len(got) > 1 or key.startswith("share-") else (got[0] if got else "")
    return values


# ----------------------------------------------------------------------- the actions


def _read_triage(form: FormData, row: Row) -> dict[str, Any]:
    return {"rag": text(form, "rag"), "rationale": text(form, "rationale")}


def _read_seek_advice(form: FormData, row: Row) -> dict[str, Any]:
    return {"question": text(form, "question")}


def _read_decision(form: FormData, row: Row) -> dict[str, Any]:
    outcome = text(form, "outcome")
    shares = []
    if outcome != DecisionOutcome.DECLINE.value:  # a decline shares nothing, ticked or not
        for agency in row["recipients"]:
            categories = [c for c in form.getlist(f"share-{agency}") if isinstance(c, str)]
            if categories:
                purpose = text(form, f"purpose-{agency}") or row["purpose"]
                shares.append({"agency": agency, "categories": categories, "purpose": purpose})
    return {
        "outcome": outcome,
        "lawful_basis": text(form, "lawful_basis"),
        "condition": optional(form, "condition"),
        "reasons": text(form, "reasons"),
        "shares": shares,
        "consent": text(form, "consent"),
        "consent_note": optional(form, "consent_note"),
        "caveats": lines(form, "caveats"),
        "why_not_sharing_is_less_detrimental": optional(
            form, "why_not_sharing_is_less_detrimental"
        ),
    }


def _read_sign_off(form: FormData, row: Row) -> dict[str, Any]:
    return {"comment": optional(form, "comment")}


def _read_family_step(form: FormData, row: Row) -> dict[str, Any]:
    parts = [text(form, f"revisit_on-{part}") for part in ("day", "month", "year")]
    revisit_on: date | str | None = None
    if any(parts):
        try:
            day, month, year = (int(part) for part in parts)
            revisit_on = date(year, month, day)
        except ValueError:
            raise FormProblems(
                [FieldError("revisit_on-day", "The revisit date must be a real date")]
            ) from None
    return {
        "kind": text(form, "kind"),
        "reason": optional(form, "family_reason"),
        "revisit_on": revisit_on,
    }


def _read_withdrawal(form: FormData, row: Row) -> dict[str, Any]:
    return {"reason": text(form, "withdraw_reason")}


def _read_closure(form: FormData, row: Row) -> dict[str, Any]:
    return {}


def _read_advice(form: FormData, row: Row) -> dict[str, Any]:
    return {"advice_id": row["advice_id"], "advice": text(form, "advice")}


TRIAGE = ActionForm(
    "triage",
    Triage,
    "Rate the request",
    _read_triage,
    {
        "rag": Field("Rating", "Select a RAG rating"),
        "rationale": Field("The rationale", "Enter the rationale for the rating"),
    },
)
SEEK_ADVICE = ActionForm(
    "seek-advice",
    SeekAdvice,
    "Seek advice",
    _read_seek_advice,
    {"question": Field("The question", "Enter the question for the advisor")},
)
DECISION = ActionForm(
    "decision",
    RecordDecision,
    "Record the decision",
    _read_decision,
    {
        "outcome": Field("Outcome", "Select the outcome"),
        "lawful_basis": Field("Lawful basis", "Select the lawful basis"),
        "condition": Field("Processing condition", "Select a processing condition"),
        "reasons": Field("The reasons", "Enter the reasons for the decision"),
        "shares": Field("What is shared", "Select what each recipient receives", "shares"),
        "consent": Field("Consent", "Select the consent status"),
        "consent_note": Field("The consent note", "Enter the consent note"),
        "caveats": Field("Each caveat", "Enter the caveats, one per line"),
        "why_not_sharing_is_less_detrimental": Field(
            "Why not sharing is less detrimental",
            "Enter why not sharing is less detrimental to the child",
        ),
    },
)
SIGN_OFF = ActionForm(
    "sign-off",
    SignOff,
    "Sign off the decision",
    _read_sign_off,
    {"comment": Field("The comment", "Enter a comment")},
)
FAMILY_STEP = ActionForm(
    "family-step",
    RecordFamilyStep,
    "Record the family step",
    _read_family_step,
    {
        "kind": Field("The family step", "Select what happens with the family"),
        "reason": Field(
            "The reason", "Enter why the family is not told now", input_id="family_reason"
        ),
        "revisit_on": Field("The revisit date", "Enter the revisit date", "revisit_on-day"),
    },
)
WITHDRAWAL = ActionForm(
    "withdrawal",
    Withdraw,
    "Withdraw the request",
    _read_withdrawal,
    {"reason": Field("The reason", "Enter the reason for withdrawing", input_id="withdraw_reason")},
)
CLOSURE = ActionForm("closure", Close, "Close the request", _read_closure)
ADVICE = ActionForm(
    "advice",
    GiveAdvice,
    "Give your advice",
    _read_advice,
    {"advice": Field("Your advice", "Enter your advice")},
)
