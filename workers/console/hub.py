"""The hub's page of one share request, and the forms of its next actions.

The page shows the request in full (:meth:`Records.request_in_full`, recorded in the
access log): who the child is, what was asked and why, the agreement's checks, the
advice, the disclosures and the timeline; then a form for each action the request's
stage and the person's role allow next, and no other. Each form posts to its own
route, which builds the workflow's input model (:mod:`workers.console.forms`) and
calls :meth:`ShareRequestService.act`, as the API does. A form that is wrong, or an
action the workflow refuses, comes back on a page of that form alone, with the GOV.UK
error summary: nothing was recorded, and that page shows nothing of the child, so it
is no view of the record either.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, cast
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from workers.console import labels
from workers.console.forms import (
    CLOSURE,
    DECISION,
    FAMILY_STEP,
    SEEK_ADVICE,
    SIGN_OFF,
    TRIAGE,
    WITHDRAWAL,
    ActionForm,
    FieldError,
    FormProblems,
    form_values,
)
from workers.console.routing import ConsoleRoute, context_of, settled, via
from workers.console.sessions import CheckedForm, flash, permitted_to
from workers.console.templates import render
from workers.hub.clients import ApiClient
from workers.hub.permissions import Work
from workers.hub.share_requests import ActionRejected, HubAction, ShareRequestFinished
from workflows.models import ActionResult, Role
from workflows.policy import (
    ConsentStatus,
    DataSharingAgreement,
    LawfulBasis,
    ProcessingCondition,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
RequestReader = Annotated[ApiClient, Depends(permitted_to(Work.SEE_REQUEST_IN_FULL))]
HubStaff = Annotated[ApiClient, Depends(permitted_to(Work.ACT_FOR_THE_HUB))]
ACTIONS: dict[str, ActionForm] = {
    form.name: form
    for form in (TRIAGE, SEEK_ADVICE, DECISION, SIGN_OFF, FAMILY_STEP, WITHDRAWAL, CLOSURE)
}
_BEFORE_DECISION = ("raised", "triaged")
_FAMILY_TOLD = ("notified", "withheld")

Row = Mapping[str, Any]


@router.get("/requests/{request_id}")
async def request_page(request_id: UUID, request: Request, person: RequestReader) -> Response:
    context = context_of(request)
    view = await context.records.request_in_full(request_id, viewer=person, via=via(request))
    raised: dict[str, Any] = next(
        (e["data"] for e in view["timeline"] if e["type"] == "ShareRequestRaised"), {}
    )
    details = view["details"] if isinstance(view["details"], dict) else {}
    people = details.get("people", [])
    return render(
        request,
        "request.html",
        title=f"Share request {labels.short_id(request_id)}",
        view=view,
        condition=raised.get("condition"),
        child=next((p for p in people if p.get("role") == "child"), None),
        others=[p for p in people if p.get("role") != "child"],
        concern=details.get("concern_summary"),
        asked=asked_for(context.policy, view["recipients"]),
        checks=agreement_checks(context.policy, view, raised.get("condition")),
        actions=next_actions(context.policy, view, person),
        titles={name: form.title for name, form in ACTIONS.items()},
        waiting=waiting_for(context.policy, view, person),
        values=form_defaults(view, raised.get("condition")),
        errors={},
        timeline=[
            {**entry, "text": labels.describe_event(entry["type"], entry["data"])}
            for entry in view["timeline"]
        ],
    )


def _action_route(
    action: ActionForm,
) -> Callable[[UUID, Request, ApiClient, Any], Awaitable[Response]]:
    async def act(
        request_id: UUID, request: Request, person: HubStaff, form: CheckedForm
    ) -> Response:
        context = context_of(request)
        row = await context.records.request_row(request_id)  # 404 before the workflow is asked
        try:
            result = await context.service.act(
                request_id, cast(HubAction, action.build(form, row, person))
            )
        except FormProblems as e:
            errors = e.errors
        except (ActionRejected, ShareRequestFinished) as e:
            errors = [FieldError("", f"{labels.sentence(str(e))} Nothing was recorded.")]
        else:
            await settled(context)
            response = RedirectResponse(f"/requests/{request_id}", status_code=303)
            flash(request, response, _done(result))
            return response
        return render(
            request,
            "action.html",
            status_code=422,
            title=action.title,
            action=action.name,
            row=row,
            asked=asked_for(context.policy, row["recipients"]),
            actions=[action.name],
            values=form_values(form),
            errors={e.field: e.text for e in errors if e.field},
            error_summary=[e.summary_item(f"{action.name}-form") for e in errors],
        )

    act.__name__ = f"post_{action.name.replace('-', '_')}"
    return act


for _action in ACTIONS.values():
    router.add_api_route(
        f"/requests/{{request_id}}/{_action.name}",
        _action_route(_action),
        methods=["POST"],
        name=f"console-{_action.name}",
    )


def _done(result: ActionResult) -> str:
    stage = labels.label(result.stage.value, labels.STAGES).lower()
    return f"{labels.sentence(result.detail)} The request is now: {stage}."


def asked_for(policy: DataSharingAgreement, recipients: Mapping[str, list[str]]) -> list[Any]:
    """What each recipient was asked to receive, named as the agreement names it."""
    found = []
    for agency_id, categories in recipients.items():
        agency = policy.agency(agency_id)
        found.append(
            {
                "id": agency_id,
                "name": agency.name if agency else agency_id,
                "categories": [
                    {
                        "id": c,
                        "name": category.name if (category := policy.category(c)) else c,
                        "sensitive": bool(category and category.needs_condition),
                    }
                    for c in categories
                ],
            }
        )
    return found


def agreement_checks(
    policy: DataSharingAgreement, view: Row, condition: str | None
) -> dict[str, Any]:
    """The agreement in force, asked again about what was requested: recipients and basis."""
    recipients = {
        agency: policy.check_recipients({agency: categories}, purpose=view["purpose"])
        for agency, categories in view["recipients"].items()
    }
    try:
        basis = policy.check_lawful_basis(
            basis=LawfulBasis(view["lawful_basis"]),
            condition=ProcessingCondition(condition) if condition else None,
            categories={c for cs in view["recipients"].values() for c in cs},
            consent=ConsentStatus(view["consent"]),
        )
        basis_problems = [str(v) for v in basis]
    except ValueError as e:  # a code this agreement no longer knows
        basis_problems = [str(e)]
    return {
        "version": policy.version,
        "checked_version": view["policy_version"],
        "recipients": {agency: [str(v) for v in found] for agency, found in recipients.items()},
        "lawful_basis": basis_problems,
    }


def next_actions(policy: DataSharingAgreement, row: Row, person: ApiClient) -> list[str]:
    """The actions the stage and the person's role allow now: only their forms are shown.

    The workflow stays the judge (a stale page's form is refused, with the reason).
    """
    stage, actions = row["stage"], []
    if stage in _BEFORE_DECISION:
        actions.append(TRIAGE.name)
    if stage == "triaged":
        actions += [SEEK_ADVICE.name, DECISION.name]
    if stage == "awaiting_sign_off" and _may_sign_off(policy, row, person):
        actions.append(SIGN_OFF.name)
    if stage in ("disclosing", "family_step") and row["family_step"] not in _FAMILY_TOLD:
        actions.append(FAMILY_STEP.name)
    if stage in _BEFORE_DECISION:
        actions.append(WITHDRAWAL.name)
    if stage == "ready_to_close":
        actions.append(CLOSURE.name)
    return actions


def _may_sign_off(policy: DataSharingAgreement, row: Row, person: ApiClient) -> bool:
    if person.role is not Role.HUB_MANAGER:
        return False
    # ``row`` is the view for people: the decider by name (one name, one person),
    # whether the event recorded the client's id or, before, its name. The workflow
    # itself compares persons.
    return not (
        policy.sign_off.signer_must_differ_from_decider and row["decided_by"] == person.name
    )


def waiting_for(policy: DataSharingAgreement, row: Row, person: ApiClient) -> str | None:
    """What the request waits for when nothing is this person's to do."""
    stage = row["stage"]
    if stage == "awaiting_sign_off" and not _may_sign_off(policy, row, person):
        return (
            f"The decision by {row['decided_by']} waits for a second sign-off by another "
            "hub manager."
        )
    if stage == "disclosing":
        return "Disclosures are on their way; the request waits for each recipient to acknowledge."
    if stage == "family_step" and row["family_step"] == "deferred":
        return f"Telling the family is deferred until {labels.day(row['family_revisit_on'])}."
    return None


def form_defaults(row: Row, condition: str | None) -> dict[str, Any]:
    """The decision form starts from what was asked: every item, the proposed basis."""
    values: dict[str, Any] = {
        "lawful_basis": row["lawful_basis"],
        "condition": condition or "",
        "consent": row["consent"],
    }
    for agency, categories in row["recipients"].items():
        values[f"share-{agency}"] = list(categories)
        values[f"purpose-{agency}"] = row["purpose"]
    return values
