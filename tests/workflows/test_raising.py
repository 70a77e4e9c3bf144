"""Raise validation: every reason a request may not be raised, before anything exists."""

from __future__ import annotations

import pytest

from tests.workflows.scenario import OFFICER, raise_request
from workflows.details import PersonDetails, PersonRole, ShareRequestDetails
from workflows.models import RequestedInformation
from workflows.policy import ConsentStatus, DataSharingAgreement, LawfulBasis
from workflows.raising import raise_problems


def test_the_scenario_request_may_be_raised(policy: DataSharingAgreement) -> None:
    assert raise_problems(raise_request(), policy) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"referrer": OFFICER}, "raised by agencies"),
        (
            {
                "recipients": (
                    RequestedInformation(
                        agency="bright-futures-youth", categories=("school_attendance",)
                    ),
                )
            },
            "has not signed",
        ),
        (
            {
                "recipients": (
                    RequestedInformation(
                        agency="st-aldhelms-primary", categories=("mappa_status",)
                    ),
                )
            },
            "mappa_status",
        ),
        ({"purpose": "curiosity"}, "curiosity"),
        ({"lawful_basis": LawfulBasis.CONSENT, "consent": ConsentStatus.NOT_SOUGHT}, "consent"),
        (
            {
                "details": ShareRequestDetails(
                    people=(
                        PersonDetails(
                            role=PersonRole.PARENT, given_names="Grace", family_name="Okafor"
                        ),
                    ),
                    concern_summary="A concern about the household.",
                )
            },
            "role child",
        ),
    ],
)
def test_a_request_breaking_the_agreement_is_refused_with_the_reason(
    policy: DataSharingAgreement, changes: dict[str, object], expected: str
) -> None:
    request = raise_request().model_copy(update=changes)
    problems = raise_problems(request, policy)
    assert problems, "the request should have been refused"
    assert any(expected in problem for problem in problems), problems
