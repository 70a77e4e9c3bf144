"""The demo's cases: fictional children, realistic requests, and the path each one takes.

Pure: a seeded random generator and the agreement in force make the same cases
every time. Every name here is invented; none may ever appear in plaintext in
Temporal's history or on the bus.
"""

from __future__ import annotations

import enum
import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from workflows.details import Address, PersonDetails, PersonRole, ShareRequestDetails
from workflows.identifiers import ChildIdentifier, nhs_check_digit
from workflows.models import Participant, RaiseShareRequest, RequestedInformation, Role, Share
from workflows.policy import ConsentStatus, DataSharingAgreement, LawfulBasis, ProcessingCondition

PURPOSE = "safeguarding_strategy"
RECIPIENTS_PER_REQUEST = 3
CATEGORIES_PER_RECIPIENT = 2

GIVEN_NAMES = (
    "Amara", "Kacper", "Nadia", "Tobias", "Ifeoma", "Rhys", "Leila", "Oisin", "Priya",
    "Mateo", "Zainab", "Callum", "Anya", "Kwame", "Elif", "Jonah", "Saoirse", "Bilal",
)  # fmt: skip
FAMILY_NAMES = (
    "Okafor", "Nowak", "Haddad", "Lindqvist", "Eze", "Pritchard", "Rahimi", "Brennan",
    "Raghunathan", "Quispe", "Bakr", "Fairweather", "Volkova", "Mensah", "Demir", "Ashdown",
)  # fmt: skip
STREETS = ("Ravensbury Terrace", "Garratt Lane", "Wandle Bank", "Merton Road", "Penwith Road")
POSTCODES = ("SW18 4RL", "SW17 0BH", "SW19 1QT", "SW18 3JF", "SW17 9NX")


class DemoPath(enum.StrEnum):
    """The routes through the lifecycle the demo plays, in turn."""

    SHARED = "shared"
    PARTLY_SHARED = "partly shared"
    DECLINED_AFTER_ADVICE = "declined after advice"
    WITHDRAWN = "withdrawn"
    SECOND_SIGN_OFF = "second sign-off"
    FAMILY_DEFERRED = "family deferred"


@dataclass(frozen=True)
class DemoCase:
    path: DemoPath
    request: RaiseShareRequest
    child_name: str

    @property
    def referrer(self) -> Participant:
        return self.request.referrer

    def shares(self, *, partial: bool = False) -> tuple[Share, ...]:
        """Everything asked for; ``partial`` leaves out the first recipient's last item."""
        shares = [
            Share(agency=r.agency, categories=r.categories, purpose=self.request.purpose)
            for r in self.request.recipients
        ]
        if partial:
            first = shares[0]
            shares[0] = first.model_copy(update={"categories": first.categories[:-1]})
        return tuple(shares)


def demo_cases(
    policy: DataSharingAgreement, count: int, *, seed: int | None = None, today: date
) -> list[DemoCase]:
    """``count`` cases cycling through every :class:`DemoPath`."""
    rng = random.Random(seed)
    paths = list(DemoPath)
    return [_case(policy, rng, paths[index % len(paths)], today) for index in range(count)]


def _case(
    policy: DataSharingAgreement, rng: random.Random, path: DemoPath, today: date
) -> DemoCase:
    candidates = [
        agency
        for agency in policy.agencies
        if agency.signatory
        and sum(policy.may_receive(agency.id, c.id, PURPOSE) for c in policy.categories)
        >= CATEGORIES_PER_RECIPIENT
    ]
    referrer, *recipients = rng.sample(candidates, RECIPIENTS_PER_REQUEST + 1)
    requested = tuple(
        RequestedInformation(
            agency=agency.id,
            categories=tuple(
                rng.sample(
                    [c.id for c in policy.categories if agency.permits(c.id, PURPOSE)],
                    CATEGORIES_PER_RECIPIENT,
                )
            ),
        )
        for agency in recipients
    )
    given, family = rng.choice(GIVEN_NAMES), rng.choice(FAMILY_NAMES)
    parent_given = rng.choice([name for name in GIVEN_NAMES if name != given])
    born = today - timedelta(days=rng.randint(3 * 365, 16 * 365))
    # Consent was given where the hub shares without a second sign-off.
    consent_given = path in (DemoPath.SHARED, DemoPath.PARTLY_SHARED, DemoPath.FAMILY_DEFERRED)
    request = RaiseShareRequest(
        request_id=uuid.uuid4(),
        referrer=Participant(id=f"{referrer.id}-dsl", role=Role.AGENCY, agency=referrer.id),
        purpose=PURPOSE,
        recipients=requested,
        lawful_basis=LawfulBasis.PUBLIC_TASK,
        condition=ProcessingCondition.SAFEGUARDING_OF_CHILDREN,
        consent=ConsentStatus.GIVEN if consent_given else ConsentStatus.NOT_SOUGHT,
        child=ChildIdentifier(nhs_number=_nhs_number(rng)),
        details=ShareRequestDetails(
            people=(
                PersonDetails(
                    role=PersonRole.CHILD,
                    given_names=given,
                    family_name=family,
                    date_of_birth=born,
                    address=Address(
                        lines=(f"{rng.randint(1, 180)} {rng.choice(STREETS)}",),
                        postcode=rng.choice(POSTCODES),
                    ),
                ),
                PersonDetails(role=PersonRole.PARENT, given_names=parent_given, family_name=family),
            ),
            concern_summary=(
                f"{given} {family} has missed school repeatedly and was seen late at night "
                f"with older young people; {parent_given} {family} says {given} stays with "
                "friends. Partner information is needed for a strategy discussion."
            ),
        ),
    )
    return DemoCase(path=path, request=request, child_name=f"{given} {family}")


def _nhs_number(rng: random.Random) -> str:
    """A random NHS number with a valid modulus-11 check digit (fictional: 999 range)."""
    while True:
        first_nine = "999" + "".join(str(rng.randint(0, 9)) for _ in range(6))
        check = nhs_check_digit(first_nine)
        if check is not None:
            return first_nine + str(check)
