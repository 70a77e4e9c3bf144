"""The data sharing agreement: the demo policy and its verdicts."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from workflows.calendar import CalendarRangeError, ClockKind
from workflows.policy import (
    AgencyType,
    ConsentStatus,
    DataSharingAgreement,
    DecisionOutcome,
    HubRole,
    LawfulBases,
    LawfulBasis,
    ProcessingCondition,
    RagRating,
    SignOffReason,
    SignOffRules,
    ViolationKind,
)
from workflows.policy_file import load_policy

DEMO_POLICY = Path(__file__).parents[2] / "policy" / "demo-dsa.toml"
LONDON = ZoneInfo("Europe/London")


def london(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON)


@pytest.fixture(scope="module")
def policy() -> DataSharingAgreement:
    return load_policy(DEMO_POLICY)


# -- the demo agreement -----------------------------------------------------------------------


def test_the_demo_agreement_names_the_partners_of_a_london_hub(
    policy: DataSharingAgreement,
) -> None:
    signatories = [agency for agency in policy.agencies if agency.signatory]
    types = [agency.type for agency in signatories]

    assert policy.version == "2026.1"
    assert len(signatories) >= 8
    assert types.count(AgencyType.SCHOOL) == 2
    for needed in (
        AgencyType.CHILDREN_SOCIAL_CARE,
        AgencyType.POLICE,
        AgencyType.GP,
        AgencyType.NHS_TRUST,
        AgencyType.HOUSING,
        AgencyType.PROBATION,
        AgencyType.LOCAL_AUTHORITY,
    ):
        assert needed in types
    assert [agency.id for agency in policy.agencies if not agency.signatory] == [
        "bright-futures-youth"
    ]


def test_a_stored_copy_of_the_agreement_is_the_same_agreement(
    policy: DataSharingAgreement,
) -> None:
    # What a workflow receives through Temporal: no holidays package, same deadlines.
    copy = DataSharingAgreement.model_validate_json(policy.model_dump_json())

    assert copy == policy
    assert copy.digest() == policy.digest() == load_policy(DEMO_POLICY).digest()
    assert copy.sla_clock(RagRating.AMBER, london(2026, 6, 12, 16, 30)) == policy.sla_clock(
        RagRating.AMBER, london(2026, 6, 12, 16, 30)
    )


def test_an_agreement_built_without_the_loader_refuses_to_guess_bank_holidays() -> None:
    document = tomllib.loads(DEMO_POLICY.read_text(encoding="utf-8"))
    unresolved = DataSharingAgreement.model_validate(document)

    with pytest.raises(ValueError, match="bank_holidays are not resolved"):
        unresolved.working_calendar()
    assert unresolved.with_bank_holidays_resolved().working_calendar().known_years == range(
        2026, 2029
    )


# -- who may receive what ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agency", "category", "purpose", "allowed"),
    [
        ("st-aldhelms-primary", "domestic_abuse_notifications", "operation_encompass", True),
        ("st-aldhelms-primary", "mappa_status", "safeguarding_strategy", False),
        ("wandle-park-academy", "domestic_abuse_notifications", "safeguarding_strategy", False),
        ("met-police", "mappa_status", "safeguarding_strategy", True),
        ("met-police", "gp_contacts", "missing_child", False),
        ("riverside-medical-practice", "police_incidents", "safeguarding_strategy", False),
        ("marshfield-csc", "missing_episodes", "missing_child", True),
        ("bright-futures-youth", "household_composition", "early_help", False),  # not signed
        ("hogwarts", "school_attendance", "safeguarding_strategy", False),
    ],
)
def test_may_receive(
    policy: DataSharingAgreement, agency: str, category: str, purpose: str, allowed: bool
) -> None:
    assert policy.may_receive(agency, category, purpose) is allowed


def test_a_request_within_the_agreement_has_no_violations(policy: DataSharingAgreement) -> None:
    requested = {
        "met-police": ["social_care_involvement", "mappa_status"],
        "st-aldhelms-primary": ["social_care_involvement"],
        "riverside-medical-practice": ["household_composition"],
    }

    assert policy.check_recipients(requested, purpose="safeguarding_strategy") == []


def test_check_recipients_names_each_violation(policy: DataSharingAgreement) -> None:
    requested = {
        "wandle-park-academy": ["safeguarding_concerns", "mappa_status", "shoe_size"],
        "bright-futures-youth": ["household_composition"],
        "hogwarts": ["school_attendance"],
        "wandlebury-housing": [],
    }

    violations = policy.check_recipients(requested, purpose="safeguarding_strategy")

    assert [(each.kind, each.agency, each.category) for each in violations] == [
        (ViolationKind.CATEGORY_NOT_PERMITTED, "wandle-park-academy", "mappa_status"),
        (ViolationKind.UNKNOWN_CATEGORY, "wandle-park-academy", "shoe_size"),
        (ViolationKind.NOT_A_SIGNATORY, "bright-futures-youth", None),
        (ViolationKind.UNKNOWN_AGENCY, "hogwarts", None),
        (ViolationKind.NO_CATEGORIES, "wandlebury-housing", None),
    ]
    assert str(violations[0]) == (
        "wandle-park-academy may not receive 'mappa_status' for 'safeguarding_strategy'"
    )
    assert "Bright Futures Youth Project" in str(violations[2])


def test_check_recipients_refuses_an_unknown_purpose_or_nobody(
    policy: DataSharingAgreement,
) -> None:
    [unknown] = policy.check_recipients({"met-police": ["mappa_status"]}, purpose="curiosity")
    [nobody] = policy.check_recipients({}, purpose="safeguarding_strategy")

    assert unknown.kind is ViolationKind.UNKNOWN_PURPOSE
    assert "'curiosity'" in unknown.message
    assert nobody.kind is ViolationKind.NO_RECIPIENTS


# -- lawful basis -----------------------------------------------------------------------------


def test_public_task_with_the_safeguarding_condition_covers_health_data(
    policy: DataSharingAgreement,
) -> None:
    assert (
        policy.check_lawful_basis(
            basis=LawfulBasis.PUBLIC_TASK,
            condition=ProcessingCondition.SAFEGUARDING_OF_CHILDREN,
            categories=["gp_contacts", "school_attendance"],
            consent=ConsentStatus.NOT_SOUGHT,
        )
        == []
    )
    assert (
        policy.check_lawful_basis(
            basis=LawfulBasis.LEGAL_OBLIGATION,
            condition=None,
            categories=["school_attendance"],
            consent=ConsentStatus.REFUSED,
        )
        == []
    )


def test_special_category_or_criminal_offence_data_needs_a_condition(
    policy: DataSharingAgreement,
) -> None:
    [violation] = policy.check_lawful_basis(
        basis=LawfulBasis.PUBLIC_TASK,
        condition=None,
        categories=["school_attendance", "police_incidents", "emergency_attendances"],
        consent=ConsentStatus.NOT_SOUGHT,
    )

    assert violation.kind is ViolationKind.CONDITION_REQUIRED
    assert "police_incidents, emergency_attendances" in violation.message


def test_consent_is_a_basis_only_where_it_was_given(policy: DataSharingAgreement) -> None:
    def kinds(consent: ConsentStatus) -> list[ViolationKind]:
        violations = policy.check_lawful_basis(
            basis=LawfulBasis.CONSENT,
            condition=ProcessingCondition.EXPLICIT_CONSENT,
            categories=["gp_contacts"],
            consent=consent,
        )
        return [violation.kind for violation in violations]

    assert kinds(ConsentStatus.GIVEN) == []
    assert kinds(ConsentStatus.REFUSED) == [ViolationKind.CONSENT_NOT_RECORDED]
    assert kinds(ConsentStatus.NOT_SOUGHT) == [ViolationKind.CONSENT_NOT_RECORDED]


def test_a_basis_or_condition_the_agreement_does_not_allow(
    policy: DataSharingAgreement,
) -> None:
    strict = policy.model_copy(
        update={"lawful_bases": LawfulBases(article_6=(LawfulBasis.PUBLIC_TASK,), conditions=())}
    )

    violations = strict.check_lawful_basis(
        basis=LawfulBasis.VITAL_INTERESTS,
        condition=ProcessingCondition.VITAL_INTERESTS,
        categories=["emergency_attendances"],
        consent=ConsentStatus.NOT_SOUGHT,
    )

    assert [violation.kind for violation in violations] == [
        ViolationKind.LAWFUL_BASIS_NOT_ALLOWED,
        ViolationKind.CONDITION_NOT_ALLOWED,
    ]


# -- second sign-off --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "consent", "decided_by", "reasons"),
    [
        (DecisionOutcome.SHARE, ConsentStatus.GIVEN, HubRole.HUB_MANAGER, ()),
        (
            DecisionOutcome.SHARE,
            ConsentStatus.REFUSED,
            HubRole.HUB_MANAGER,
            (SignOffReason.SHARING_WITHOUT_CONSENT,),
        ),
        (
            DecisionOutcome.SHARE_PARTIAL,
            ConsentStatus.NOT_SOUGHT,
            HubRole.HUB_MANAGER,
            (SignOffReason.SHARING_WITHOUT_CONSENT,),
        ),
        (
            DecisionOutcome.SHARE,
            ConsentStatus.GIVEN,
            HubRole.HUB_OFFICER,
            (SignOffReason.DECIDED_BY_OFFICER,),
        ),
        (
            DecisionOutcome.SHARE,
            ConsentStatus.NOT_SOUGHT,
            HubRole.HUB_OFFICER,
            (SignOffReason.SHARING_WITHOUT_CONSENT, SignOffReason.DECIDED_BY_OFFICER),
        ),
        # Declining shares nothing, so consent does not matter; an officer's decline does.
        (DecisionOutcome.DECLINE, ConsentStatus.REFUSED, HubRole.HUB_MANAGER, ()),
        (
            DecisionOutcome.DECLINE,
            ConsentStatus.REFUSED,
            HubRole.HUB_OFFICER,
            (SignOffReason.DECIDED_BY_OFFICER,),
        ),
    ],
)
def test_second_sign_off_reasons(
    policy: DataSharingAgreement,
    outcome: DecisionOutcome,
    consent: ConsentStatus,
    decided_by: HubRole,
    reasons: tuple[SignOffReason, ...],
) -> None:
    assert (
        policy.second_sign_off_reasons(outcome=outcome, consent=consent, decided_by=decided_by)
        == reasons
    )
    assert policy.needs_second_sign_off(
        outcome=outcome, consent=consent, decided_by=decided_by
    ) is bool(reasons)


def test_second_sign_off_rules_can_be_switched_off(policy: DataSharingAgreement) -> None:
    relaxed = policy.model_copy(
        update={"sign_off": SignOffRules(sharing_without_consent=False, decision_by_officer=False)}
    )

    assert not relaxed.needs_second_sign_off(
        outcome=DecisionOutcome.SHARE,
        consent=ConsentStatus.REFUSED,
        decided_by=HubRole.HUB_OFFICER,
    )


def test_the_second_sign_off_is_a_different_hub_manager(policy: DataSharingAgreement) -> None:
    def kinds(signer: str, role: HubRole) -> list[ViolationKind]:
        violations = policy.check_sign_off(
            decided_by_id="officer.ayo", signed_off_by_id=signer, signer_role=role
        )
        return [violation.kind for violation in violations]

    assert kinds("manager.priya", HubRole.HUB_MANAGER) == []
    assert kinds("officer.ben", HubRole.HUB_OFFICER) == [ViolationKind.SIGNER_NOT_A_MANAGER]
    assert kinds("officer.ayo", HubRole.HUB_MANAGER) == [ViolationKind.SIGNER_IS_DECIDER]


# -- clocks from the agreement ----------------------------------------------------------------


def test_sla_for_each_rating(policy: DataSharingAgreement) -> None:
    red, amber, green = (
        policy.sla_for(rag) for rag in (RagRating.RED, RagRating.AMBER, RagRating.GREEN)
    )

    assert red is not None and amber is not None and green is not None
    assert (red.duration, red.clock) == (timedelta(hours=2), ClockKind.ROUND_THE_CLOCK)
    assert (amber.duration, amber.clock) == (timedelta(hours=6), ClockKind.WORKING_HOURS)
    assert (green.duration, green.clock) == (timedelta(hours=24), ClockKind.WORKING_HOURS)
    assert policy.sla_for(RagRating.BLUE) is None
    assert policy.sla_clock(RagRating.BLUE, london(2026, 6, 12, 16, 30)) is None


def test_sla_clocks_from_the_agreement(policy: DataSharingAgreement) -> None:
    amber = policy.sla_clock(RagRating.AMBER, london(2026, 6, 12, 16, 30))
    red = policy.sla_clock(RagRating.RED, london(2026, 6, 16, 2))

    assert amber is not None and red is not None
    assert amber.deadline == london(2026, 6, 15, 14, 30)
    assert [reminder.due_at for reminder in amber.reminders] == [
        london(2026, 6, 15, 11, 30),
        london(2026, 6, 15, 13, 18),
    ]
    assert red.deadline == london(2026, 6, 16, 4)
    assert red.handed_to_emergency_duty_team


def test_amber_over_christmas_waits_for_the_council_closure_days(
    policy: DataSharingAgreement,
) -> None:
    # Christmas Day (Fri), the weekend, Boxing Day observed (Mon 28), closure days 29-31
    # December from the agreement, New Year's Day (Fri 1 January 2027), the weekend.
    amber = policy.sla_clock(RagRating.AMBER, london(2026, 12, 24, 16))

    assert amber is not None
    assert amber.deadline == london(2027, 1, 4, 14)


def test_referrer_and_acknowledgement_deadlines(policy: DataSharingAgreement) -> None:
    assert policy.referrer_feedback_deadline(london(2026, 6, 16, 15)) == london(2026, 6, 17, 15)
    assert policy.referrer_feedback_deadline(london(2026, 5, 22, 15)) == london(2026, 5, 26, 15)
    assert policy.acknowledgement_deadline(london(2026, 6, 12, 16)) == london(2026, 6, 15, 12)


def test_the_calendar_covers_only_the_years_the_agreement_resolved(
    policy: DataSharingAgreement,
) -> None:
    with pytest.raises(CalendarRangeError, match="2029"):
        policy.sla_clock(RagRating.GREEN, london(2029, 2, 1, 10))
