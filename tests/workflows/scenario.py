"""A realistic share request and the hub staff who handle it, for the workflow tests."""

from __future__ import annotations

import os
import uuid
from datetime import date

from workflows.details import Address, PersonDetails, PersonRole, ShareRequestDetails
from workflows.identifiers import ChildIdentifier
from workflows.models import (
    Participant,
    RaiseShareRequest,
    RequestedInformation,
    Role,
    Share,
    StartShareRequest,
)
from workflows.policy import ConsentStatus, DataSharingAgreement, LawfulBasis, ProcessingCondition

SCHOOL_DSL = Participant(id="dsl-okonjo", role=Role.AGENCY, agency="st-aldhelms-primary")
OFFICER = Participant(id="officer-reid", role=Role.HUB_OFFICER)
MANAGER = Participant(id="manager-aziz", role=Role.HUB_MANAGER)
SECOND_MANAGER = Participant(id="manager-lowe", role=Role.HUB_MANAGER)
ADVISOR = Participant(id="ig-lead-park", role=Role.IG_ADVISOR)
POLICE = Participant(id="dc-harris", role=Role.AGENCY, agency="met-police")
GP = Participant(id="dr-sato", role=Role.AGENCY, agency="riverside-medical-practice")

CHILD_NAME = "Amara Okafor"

POLICE_ASKED = ("social_care_involvement", "school_attendance", "missing_episodes")
GP_ASKED = ("social_care_involvement", "household_composition")


def raise_request() -> RaiseShareRequest:
    return RaiseShareRequest(
        request_id=uuid.uuid4(),
        referrer=SCHOOL_DSL,
        purpose="safeguarding_strategy",
        recipients=(
            RequestedInformation(agency="met-police", categories=POLICE_ASKED),
            RequestedInformation(agency="riverside-medical-practice", categories=GP_ASKED),
        ),
        lawful_basis=LawfulBasis.PUBLIC_TASK,
        condition=ProcessingCondition.SAFEGUARDING_OF_CHILDREN,
        consent=ConsentStatus.NOT_SOUGHT,
        child=ChildIdentifier(nhs_number="943 476 5919"),
        details=ShareRequestDetails(
            people=(
                PersonDetails(
                    role=PersonRole.CHILD,
                    given_names="Amara",
                    family_name="Okafor",
                    date_of_birth=date(2016, 3, 2),
                    address=Address(lines=("14 Ravensbury Terrace",), postcode="SW18 4RL"),
                ),
                PersonDetails(role=PersonRole.PARENT, given_names="Grace", family_name="Okafor"),
            ),
            concern_summary=(
                "Amara Okafor has been missing from school three times this month; "
                "Grace Okafor says Amara stays with friends."
            ),
        ),
    )


def start(
    policy: DataSharingAgreement, request: RaiseShareRequest | None = None
) -> StartShareRequest:
    return StartShareRequest(
        request=request or raise_request(), policy=policy, pseudonym_salt=os.urandom(32)
    )


def share_all() -> tuple[Share, ...]:
    return (
        Share(agency="met-police", categories=POLICE_ASKED, purpose="safeguarding_strategy"),
        Share(
            agency="riverside-medical-practice",
            categories=GP_ASKED,
            purpose="safeguarding_strategy",
        ),
    )
