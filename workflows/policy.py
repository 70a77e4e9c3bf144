"""The data sharing agreement (DSA) in force: who may receive what, for which purpose, how fast.

An information governance lead writes the agreement as a TOML file (``policy/demo-dsa.toml``
is a complete example); ``workflows.policy_file.load_policy`` reads and validates it into the
frozen pydantic models here. The share request workflow holds a ``DataSharingAgreement`` and
asks it questions while it runs in Temporal's sandbox — ``check_recipients``,
``check_lawful_basis``, ``sla_clock``, ``second_sign_off_reasons`` — so importing this module
has no side effects and no query reads a file, the clock or the ``holidays`` package. Import
it in a workflow through ``workflow.unsafe.imports_passed_through()``, like
``workflows.calendar``.

Bank holidays are the one thing computed rather than written down:
``with_bank_holidays_resolved`` (which ``load_policy`` calls) resolves them from the
``holidays`` package for the years the agreement covers and records the dates in the model.
A stored copy of the agreement then reproduces the same deadlines years later, and a
workflow never calls the package (its lazy imports fail inside the sandbox).

Errors: validating an agreement raises pydantic's ``ValidationError``. Mistakes across
sections (an unknown category, a duplicate id) come as one error of type
``INCONSISTENT_POLICY`` whose context holds each problem with its own field path;
``workflows.policy_file`` turns them into one line per problem.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from workflows.calendar import ClockKind, SlaClock, WorkingCalendar

# -- vocabulary ------------------------------------------------------------------------------


class AgencyType(enum.StrEnum):
    CHILDREN_SOCIAL_CARE = "children_social_care"
    POLICE = "police"
    SCHOOL = "school"
    EARLY_YEARS = "early_years"
    GP = "gp"
    NHS_TRUST = "nhs_trust"
    HOUSING = "housing"
    PROBATION = "probation"
    YOUTH_JUSTICE = "youth_justice"
    LOCAL_AUTHORITY = "local_authority"
    VOLUNTARY_SECTOR = "voluntary_sector"


class RagRating(enum.StrEnum):
    """The hub's triage rating; ``blue`` means no further action, with no SLA."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"
    BLUE = "blue"


class ConsentStatus(enum.StrEnum):
    GIVEN = "given"
    REFUSED = "refused"
    NOT_SOUGHT = "not_sought"


class HubRole(enum.StrEnum):
    HUB_OFFICER = "hub_officer"
    HUB_MANAGER = "hub_manager"


class DecisionOutcome(enum.StrEnum):
    SHARE = "share"
    SHARE_PARTIAL = "share_partial"
    DECLINE = "decline"


class LawfulBasis(enum.StrEnum):
    """UK GDPR Article 6(1) bases a hub may rely on to share."""

    CONSENT = "art6_1a_consent"
    LEGAL_OBLIGATION = "art6_1c_legal_obligation"
    VITAL_INTERESTS = "art6_1d_vital_interests"
    PUBLIC_TASK = "art6_1e_public_task"


class ProcessingCondition(enum.StrEnum):
    """The extra condition for special category (Art 9) or criminal offence (Art 10) data.

    DPA 2018 Schedule 1 paragraph 18, "safeguarding of children and of individuals at
    risk", serves both articles and is the one safeguarding partnerships rely on.
    """

    EXPLICIT_CONSENT = "art9_2a_explicit_consent"
    VITAL_INTERESTS = "art9_2c_vital_interests"
    SAFEGUARDING_OF_CHILDREN = "art9_2g_dpa2018_sch1_para18_safeguarding"
    HEALTH_OR_SOCIAL_CARE = "art9_2h_health_or_social_care"


class Weekday(enum.StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        """``date.weekday()`` of this day: Monday is 0."""
        return list(Weekday).index(self)


class ViolationKind(enum.StrEnum):
    NO_RECIPIENTS = "no_recipients"
    UNKNOWN_PURPOSE = "unknown_purpose"
    UNKNOWN_AGENCY = "unknown_agency"
    NOT_A_SIGNATORY = "not_a_signatory"
    NO_CATEGORIES = "no_categories"
    UNKNOWN_CATEGORY = "unknown_category"
    CATEGORY_NOT_PERMITTED = "category_not_permitted"
    LAWFUL_BASIS_NOT_ALLOWED = "lawful_basis_not_allowed"
    CONDITION_REQUIRED = "condition_required"
    CONDITION_NOT_ALLOWED = "condition_not_allowed"
    CONSENT_NOT_RECORDED = "consent_not_recorded"
    SIGNER_NOT_A_MANAGER = "signer_not_a_manager"
    SIGNER_IS_DECIDER = "signer_is_decider"


class SignOffReason(enum.StrEnum):
    """Why a decision waits for a hub manager's second sign-off."""

    SHARING_WITHOUT_CONSENT = "sharing_without_consent"
    DECIDED_BY_OFFICER = "decided_by_officer"


class PolicyViolation(BaseModel):
    """One specific reason the agreement refuses a request, decision or sign-off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ViolationKind
    message: str
    agency: str | None = None
    category: str | None = None

    def __str__(self) -> str:
        return self.message


# -- the agreement ---------------------------------------------------------------------------

# Field docstrings become the descriptions in the JSON schema.
_FROZEN = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

Text = Annotated[str, Field(min_length=1)]
AgencyId = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
# A NATS subject to publish to: dot-separated tokens, no wildcards.
BusSubject = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Purpose(BaseModel):
    """Why information is shared; each permission names one."""

    model_config = _FROZEN

    id: Code
    name: Text
    statutory_basis: Text
    description: str = ""


class InformationCategory(BaseModel):
    """A kind of information a partner holds and may share."""

    model_config = _FROZEN

    id: Code
    name: Text
    description: str = ""
    special_category: bool = False
    """UK GDPR Article 9 data (health, for example): needs a processing condition."""
    criminal_offence_data: bool = False
    """UK GDPR Article 10 data: needs a processing condition too."""

    @property
    def needs_condition(self) -> bool:
        return self.special_category or self.criminal_offence_data


class Agency(BaseModel):
    """A partner agency: where its disclosures go, and what it may receive for which purpose."""

    model_config = _FROZEN

    id: AgencyId
    name: Text
    type: AgencyType
    signatory: bool
    """Only signatories of the agreement may receive anything."""
    bus_subject: BusSubject
    may_receive: Mapping[Code, tuple[Code, ...]] = Field(default_factory=dict)
    """Purpose id -> the information categories this agency may receive for it."""

    def permits(self, category: str, purpose: str) -> bool:
        """Whether the schedule lists ``category`` for ``purpose`` (signatory or not)."""
        return category in self.may_receive.get(purpose, ())


class Timescale(BaseModel):
    """A duration and the time it counts: round the clock or in working hours."""

    model_config = _FROZEN

    duration: timedelta = Field(gt=timedelta(0))
    clock: ClockKind

    def __str__(self) -> str:
        return f"{_format_duration(self.duration)} {self.clock.value.replace('_', ' ')}"


class SlaPolicy(BaseModel):
    """The RAG timescales; a missing red, amber or green is an error in the file."""

    model_config = _FROZEN

    reminders: tuple[float, ...] = (0.5, 0.8)
    """Fractions of the SLA time at which a reminder goes out; escalation is at 1."""
    red: Timescale
    amber: Timescale
    green: Timescale

    @field_validator("reminders")
    @classmethod
    def _reminders_in_order(cls, reminders: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < fraction < 1 for fraction in reminders):
            raise ValueError("each reminder is a fraction strictly between 0 and 1")
        if list(reminders) != sorted(set(reminders)):
            raise ValueError("reminders must be in increasing order, without repeats")
        return reminders

    def for_rating(self, rag: RagRating) -> Timescale | None:
        return {
            RagRating.RED: self.red,
            RagRating.AMBER: self.amber,
            RagRating.GREEN: self.green,
        }.get(rag)


class Deadlines(BaseModel):
    model_config = _FROZEN

    referrer_feedback_working_days: int = Field(default=1, ge=1)
    """Working Together 2023: the referrer hears the outcome within one working day."""
    disclosure_acknowledgement: Timescale = Timescale(
        duration=timedelta(hours=4), clock=ClockKind.WORKING_HOURS
    )
    """How long a recipient has to acknowledge a disclosure before it is escalated."""


class BankHolidays(BaseModel):
    """Public holidays from the ``holidays`` package, for one country and subdivision.

    ``years`` and ``dates`` are filled by ``load_policy``; a file normally leaves them out.
    A file that lists them (a stored copy of a loaded agreement) is taken as it is.
    """

    model_config = _FROZEN

    country: Text = "GB"
    subdivision: str | None = "ENG"
    years: tuple[int, int] | None = None
    """First and last year whose holidays ``dates`` holds."""
    dates: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _years_in_order(self) -> BankHolidays:
        if self.years is not None and self.years[0] > self.years[1]:
            raise ValueError("years must be [first, last] with first <= last")
        return self


class ClosureDay(BaseModel):
    """A day the hub is closed although it is neither a weekend nor a bank holiday."""

    model_config = _FROZEN

    day: date
    reason: Text


class CalendarPolicy(BaseModel):
    """The hub's working hours, in which amber and green clocks run."""

    model_config = _FROZEN

    timezone: Text = "Europe/London"
    working_days: tuple[Weekday, ...] = (
        Weekday.MONDAY,
        Weekday.TUESDAY,
        Weekday.WEDNESDAY,
        Weekday.THURSDAY,
        Weekday.FRIDAY,
    )
    opens_at: time = time(9)
    closes_at: time = time(17)
    bank_holidays: BankHolidays = BankHolidays()
    closures: tuple[ClosureDay, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r}") from None
        return name

    @field_validator("working_days")
    @classmethod
    def _working_days_listed_once(cls, days: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not days or len(set(days)) != len(days):
            raise ValueError("list each working day once, and at least one")
        return days

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _local_time(cls, moment: time) -> time:
        if moment.tzinfo is not None:
            raise ValueError("a local time of day, without an offset (e.g. 09:00:00)")
        return moment

    @model_validator(mode="after")
    def _opens_before_closing(self) -> CalendarPolicy:
        if not self.opens_at < self.closes_at:
            raise ValueError(f"opens_at {self.opens_at} must be before closes_at {self.closes_at}")
        return self


class SignOffRules(BaseModel):
    """When a decision needs a hub manager's second sign-off before anything is sent."""

    model_config = _FROZEN

    sharing_without_consent: bool = True
    decision_by_officer: bool = True
    signer_must_differ_from_decider: bool = True


class Contact(BaseModel):
    model_config = _FROZEN

    name: Text
    email: Email
    phone: Text
    hours: Text


class EscalationContacts(BaseModel):
    model_config = _FROZEN

    hub_manager: Contact
    """Escalations and SLA breaches in working hours."""
    emergency_duty_team: Contact
    """Red requests raised while the hub is closed."""
    information_governance_lead: Contact | None = None


class LawfulBases(BaseModel):
    """The lawful bases and processing conditions this agreement allows partners to rely on."""

    model_config = _FROZEN

    article_6: tuple[LawfulBasis, ...] = Field(min_length=1)
    conditions: tuple[ProcessingCondition, ...] = ()


class Retention(BaseModel):
    model_config = _FROZEN

    years_after_closure: int = Field(ge=1)
    note: str = ""


class DataSharingAgreement(BaseModel):
    """A versioned data sharing agreement: the rules every share request is held to.

    Every event that depends on the agreement records its ``version``; ``digest()``
    identifies the exact content.
    """

    model_config = _FROZEN

    id: AgencyId
    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z.+-]*$")]
    title: Text
    borough: Text
    hub: Text
    effective_from: date
    review_by: date
    purposes: tuple[Purpose, ...] = Field(min_length=1)
    categories: tuple[InformationCategory, ...] = Field(min_length=1)
    agencies: tuple[Agency, ...] = Field(min_length=1)
    lawful_bases: LawfulBases
    sla: SlaPolicy
    deadlines: Deadlines = Deadlines()
    calendar: CalendarPolicy = CalendarPolicy()
    sign_off: SignOffRules = SignOffRules()
    escalation: EscalationContacts
    retention: Retention

    @model_validator(mode="after")
    def _consistent(self) -> DataSharingAgreement:
        problems = _consistency_problems(self)
        if problems:
            raise PydanticCustomError(
                INCONSISTENT_POLICY,
                "{summary}",
                {
                    "summary": "; ".join(f"{where}: {what}" for where, what in problems),
                    "problems": tuple(problems),
                },
            )
        return self

    # -- lookups -----------------------------------------------------------------------------

    def agency(self, agency_id: str) -> Agency | None:
        return next((agency for agency in self.agencies if agency.id == agency_id), None)

    def purpose(self, purpose_id: str) -> Purpose | None:
        return next((purpose for purpose in self.purposes if purpose.id == purpose_id), None)

    def category(self, category_id: str) -> InformationCategory | None:
        return next((each for each in self.categories if each.id == category_id), None)

    def digest(self) -> str:
        """``sha256:…`` of the agreement's content, bank holiday dates included."""
        return "sha256:" + hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    # -- who may receive what ----------------------------------------------------------------

    def may_receive(self, agency_id: str, category: str, purpose: str) -> bool:
        """Whether the agreement lets ``agency_id`` receive ``category`` for ``purpose``."""
        agency = self.agency(agency_id)
        return agency is not None and agency.signatory and agency.permits(category, purpose)

    def check_recipients(
        self, requested: Mapping[str, Collection[str]], *, purpose: str
    ) -> list[PolicyViolation]:
        """Every reason the agreement refuses to send ``requested`` for ``purpose``.

        Args:
            requested: recipient agency id -> the information categories it would receive.
            purpose: the purpose id the information is shared for.

        Returns:
            The violations in the order of ``requested``; empty when all is allowed.
        """
        if self.purpose(purpose) is None:
            known = ", ".join(each.id for each in self.purposes)
            return [
                PolicyViolation(
                    kind=ViolationKind.UNKNOWN_PURPOSE,
                    message=f"unknown purpose {purpose!r}; the agreement names {known}",
                )
            ]
        if not requested:
            return [PolicyViolation(kind=ViolationKind.NO_RECIPIENTS, message="no recipients")]
        violations: list[PolicyViolation] = []
        for agency_id, categories in requested.items():
            violations += self._check_recipient(agency_id, categories, purpose)
        return violations

    def _check_recipient(
        self, agency_id: str, categories: Collection[str], purpose: str
    ) -> list[PolicyViolation]:
        agency = self.agency(agency_id)
        if agency is None:
            return [
                PolicyViolation(
                    kind=ViolationKind.UNKNOWN_AGENCY,
                    agency=agency_id,
                    message=f"{agency_id!r} is not a party to agreement {self.id} v{self.version}",
                )
            ]
        if not agency.signatory:
            return [
                PolicyViolation(
                    kind=ViolationKind.NOT_A_SIGNATORY,
                    agency=agency_id,
                    message=f"{agency.name} ({agency_id}) has not signed agreement {self.id}",
                )
            ]
        if not categories:
            return [
                PolicyViolation(
                    kind=ViolationKind.NO_CATEGORIES,
                    agency=agency_id,
                    message=f"no information categories requested for {agency_id}",
                )
            ]
        violations = []
        for category in categories:
            if self.category(category) is None:
                violations.append(
                    PolicyViolation(
                        kind=ViolationKind.UNKNOWN_CATEGORY,
                        agency=agency_id,
                        category=category,
                        message=f"unknown information category {category!r}",
                    )
                )
            elif not agency.permits(category, purpose):
                violations.append(
                    PolicyViolation(
                        kind=ViolationKind.CATEGORY_NOT_PERMITTED,
                        agency=agency_id,
                        category=category,
                        message=f"{agency_id} may not receive {category!r} for {purpose!r}",
                    )
                )
        return violations

    def check_lawful_basis(
        self,
        *,
        basis: LawfulBasis,
        condition: ProcessingCondition | None,
        categories: Iterable[str],
        consent: ConsentStatus,
    ) -> list[PolicyViolation]:
        """Every reason the proposed lawful basis does not cover sharing ``categories``.

        Special category and criminal offence data need an allowed processing condition;
        consent is a basis only where consent was recorded as given.
        """
        violations = []
        if basis not in self.lawful_bases.article_6:
            violations.append(
                PolicyViolation(
                    kind=ViolationKind.LAWFUL_BASIS_NOT_ALLOWED,
                    message=f"the agreement does not allow lawful basis {basis.value}",
                )
            )
        sensitive = [
            category.id
            for category in map(self.category, categories)
            if category is not None and category.needs_condition
        ]
        if sensitive and condition is None:
            violations.append(
                PolicyViolation(
                    kind=ViolationKind.CONDITION_REQUIRED,
                    category=sensitive[0],
                    message="special category or criminal offence data "
                    f"({', '.join(sensitive)}) needs an Article 9/10 processing condition",
                )
            )
        if condition is not None and condition not in self.lawful_bases.conditions:
            violations.append(
                PolicyViolation(
                    kind=ViolationKind.CONDITION_NOT_ALLOWED,
                    message=f"the agreement does not allow processing condition {condition.value}",
                )
            )
        relies_on_consent = basis is LawfulBasis.CONSENT or (
            condition is ProcessingCondition.EXPLICIT_CONSENT
        )
        if relies_on_consent and consent is not ConsentStatus.GIVEN:
            violations.append(
                PolicyViolation(
                    kind=ViolationKind.CONSENT_NOT_RECORDED,
                    message=f"consent is relied on but recorded as {consent.value}",
                )
            )
        return violations

    # -- sign-off ----------------------------------------------------------------------------

    def second_sign_off_reasons(
        self, *, outcome: DecisionOutcome, consent: ConsentStatus, decided_by: HubRole
    ) -> tuple[SignOffReason, ...]:
        """Why this decision needs a hub manager's second sign-off; empty if it does not."""
        reasons = []
        sharing = outcome is not DecisionOutcome.DECLINE
        if self.sign_off.sharing_without_consent and sharing and consent is not ConsentStatus.GIVEN:
            reasons.append(SignOffReason.SHARING_WITHOUT_CONSENT)
        if self.sign_off.decision_by_officer and decided_by is not HubRole.HUB_MANAGER:
            reasons.append(SignOffReason.DECIDED_BY_OFFICER)
        return tuple(reasons)

    def needs_second_sign_off(
        self, *, outcome: DecisionOutcome, consent: ConsentStatus, decided_by: HubRole
    ) -> bool:
        return bool(
            self.second_sign_off_reasons(outcome=outcome, consent=consent, decided_by=decided_by)
        )

    def check_sign_off(
        self, *, decided_by_id: str, signed_off_by_id: str, signer_role: HubRole
    ) -> list[PolicyViolation]:
        """Every reason this person may not give the second sign-off."""
        violations = []
        if signer_role is not HubRole.HUB_MANAGER:
            violations.append(
                PolicyViolation(
                    kind=ViolationKind.SIGNER_NOT_A_MANAGER,
                    message=f"a second sign-off needs a hub manager, not a {signer_role.value}",
                )
            )
        if self.sign_off.signer_must_differ_from_decider and signed_off_by_id == decided_by_id:
            violations.append(
                PolicyViolation(
                    kind=ViolationKind.SIGNER_IS_DECIDER,
                    message="the second sign-off must come from someone other than the decider",
                )
            )
        return violations

    # -- clocks ------------------------------------------------------------------------------

    def working_calendar(self) -> WorkingCalendar:
        """The hub's calendar: working hours, bank holidays and closure days.

        Raises:
            ValueError: the bank holidays are not resolved (the agreement did not come
                from ``load_policy`` or ``with_bank_holidays_resolved``).
        """
        calendar, holidays = self.calendar, self.calendar.bank_holidays
        if holidays.years is None:
            raise ValueError(
                "calendar.bank_holidays are not resolved; "
                "load the agreement with load_policy() or with_bank_holidays_resolved()"
            )
        return WorkingCalendar(
            timezone=calendar.timezone,
            working_weekdays=frozenset(day.number for day in calendar.working_days),
            opens_at=calendar.opens_at,
            closes_at=calendar.closes_at,
            closed_dates=frozenset(holidays.dates) | {closure.day for closure in calendar.closures},
            known_years=range(holidays.years[0], holidays.years[1] + 1),
        )

    def sla_for(self, rag: RagRating) -> Timescale | None:
        """The timescale for a RAG rating; ``None`` for blue (no further action)."""
        return self.sla.for_rating(rag)

    def sla_clock(self, rag: RagRating, started_at: datetime) -> SlaClock | None:
        """Reminders, deadline and EDT handover of a request rated ``rag`` at ``started_at``."""
        timescale = self.sla_for(rag)
        if timescale is None:
            return None
        return SlaClock.compute(
            started_at=started_at,
            duration=timescale.duration,
            clock=timescale.clock,
            calendar=self.working_calendar(),
            reminder_fractions=self.sla.reminders,
        )

    def deadline(self, timescale: Timescale, start: datetime) -> datetime:
        """When ``timescale`` runs out if it starts at ``start`` (UTC)."""
        return SlaClock.compute(
            started_at=start,
            duration=timescale.duration,
            clock=timescale.clock,
            calendar=self.working_calendar(),
            reminder_fractions=(),
        ).deadline

    def acknowledgement_deadline(self, sent_at: datetime) -> datetime:
        """When a disclosure sent at ``sent_at`` must have been acknowledged (UTC)."""
        return self.deadline(self.deadlines.disclosure_acknowledgement, sent_at)

    def referrer_feedback_deadline(self, decided_at: datetime) -> datetime:
        """When the referrer must have been told the outcome of a decision (UTC)."""
        return self.working_calendar().add_working_days(
            decided_at, self.deadlines.referrer_feedback_working_days
        )

    # -- bank holidays -----------------------------------------------------------------------

    def bank_holiday_years(self) -> tuple[int, int]:
        """The years whose bank holidays the agreement needs.

        From the year it takes effect to the year after its review date, so that a
        request raised just before a late review still has next year's holidays.
        """
        return self.effective_from.year, self.review_by.year + 1

    def with_bank_holidays_resolved(self) -> DataSharingAgreement:
        """A copy whose calendar holds the bank holiday dates, computed if not yet recorded."""
        holidays = self.calendar.bank_holidays
        if holidays.years is not None:
            return self
        years = self.bank_holiday_years()
        resolved = holidays.model_copy(
            update={
                "years": years,
                "dates": bank_holiday_dates(
                    holidays.country, holidays.subdivision, range(years[0], years[1] + 1)
                ),
            }
        )
        calendar = self.calendar.model_copy(update={"bank_holidays": resolved})
        return self.model_copy(update={"calendar": calendar})

    def describe(self) -> str:
        """A few lines for an administrator: what the agreement contains."""
        signatories = sum(agency.signatory for agency in self.agencies)
        holidays = self.calendar.bank_holidays
        days = ", ".join(day.value[:3].title() for day in self.calendar.working_days)
        holiday_years = (
            f"{holidays.years[0]}-{holidays.years[1]}" if holidays.years else "not resolved"
        )
        region = (
            f"{holidays.country}-{holidays.subdivision}"
            if holidays.subdivision
            else holidays.country
        )
        reminders = ", ".join(f"{fraction:.0%}" for fraction in self.sla.reminders)
        return "\n".join(
            [
                f"{self.title}",
                f"  id {self.id}, version {self.version}, effective {self.effective_from}, "
                f"review by {self.review_by}",
                f"  {len(self.agencies)} agencies ({signatories} signatories), "
                f"{len(self.categories)} information categories, {len(self.purposes)} purposes",
                f"  SLA: red {self.sla.red}, amber {self.sla.amber}, green {self.sla.green}; "
                f"reminders at {reminders}",
                f"  hours: {days} {self.calendar.opens_at:%H:%M}-{self.calendar.closes_at:%H:%M} "
                f"{self.calendar.timezone}; {len(holidays.dates)} bank holidays ({region}, "
                f"{holiday_years}); {len(self.calendar.closures)} closure days",
                f"  digest {self.digest()}",
            ]
        )


# -- consistency across sections -------------------------------------------------------------

# The pydantic error type of the cross-section check; its context carries "problems",
# a tuple of (field path, problem), which workflows.policy_file reports one a line.
INCONSISTENT_POLICY = "inconsistent_policy"


def _consistency_problems(policy: DataSharingAgreement) -> list[tuple[str, str]]:
    """(field path, problem) for every cross-reference the agreement gets wrong."""
    problems = []
    for section, items in (
        ("purposes", policy.purposes),
        ("categories", policy.categories),
        ("agencies", policy.agencies),
    ):
        problems += _duplicates(section, "id", [item.id for item in items])
    problems += _duplicates(
        "agencies", "bus_subject", [agency.bus_subject for agency in policy.agencies]
    )
    purposes = {purpose.id for purpose in policy.purposes}
    categories = {category.id for category in policy.categories}
    for index, agency in enumerate(policy.agencies):
        for purpose, permitted in agency.may_receive.items():
            where = f"agencies[{index}].may_receive.{purpose}"
            if purpose not in purposes:
                problems.append((where, f"unknown purpose {purpose!r}"))
            for position, category in enumerate(permitted):
                if category not in categories:
                    problems.append((f"{where}[{position}]", f"unknown category {category!r}"))
            problems += _duplicates(where, None, list(permitted))
    if policy.review_by <= policy.effective_from:
        problems.append(("review_by", "must be after effective_from"))
    return problems


def _duplicates(section: str, field: str | None, values: Sequence[str]) -> list[tuple[str, str]]:
    seen: set[str] = set()
    problems = []
    for index, value in enumerate(values):
        if value in seen:
            where = f"{section}[{index}]" + (f".{field}" if field else "")
            problems.append((where, f"duplicate {field or 'entry'} {value!r}"))
        seen.add(value)
    return problems


def _format_duration(duration: timedelta) -> str:
    hours, rest = divmod(int(duration.total_seconds()), 3600)
    minutes = rest // 60
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


# -- bank holidays -----------------------------------------------------------------------------


def bank_holiday_dates(country: str, subdivision: str | None, years: range) -> tuple[date, ...]:
    """Public holidays in ``years`` from the ``holidays`` package, in date order.

    Raises:
        ValueError: the package knows no such country or subdivision.
    """
    # Imported here, not at the top: the package imports its country modules on first use,
    # which Temporal's sandbox forbids, and workflows import this module.
    import holidays

    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision, years=years)
    except NotImplementedError as e:
        raise ValueError(str(e)) from e
    return tuple(sorted(calendar))
