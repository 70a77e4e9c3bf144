"""Codes as people read them: stages, ratings, lawful bases, event types, times and durations.

Times are shown in the hub's own time zone (Europe/London unless the agreement says
otherwise), the way GOV.UK writes them: ``3 November 2026 at 2:05pm``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

HUB_TIME_ZONE = ZoneInfo("Europe/London")

STAGES = {
    "raised": "Awaiting triage",
    "triaged": "Triaged",
    "awaiting_sign_off": "Awaiting sign-off",
    "disclosing": "Disclosing",
    "family_step": "Family step due",
    "ready_to_close": "Ready to close",
    "closed": "Closed",
    "withdrawn": "Withdrawn",
}
STAGE_COLOURS = {
    "raised": "purple",
    "triaged": "light-blue",
    "awaiting_sign_off": "yellow",
    "disclosing": "turquoise",
    "family_step": "pink",
    "ready_to_close": "green",
    "closed": "grey",
    "withdrawn": "grey",
}
RAGS = {"red": "Red", "amber": "Amber", "green": "Green", "blue": "Blue (no further action)"}
RAG_COLOURS = {"red": "red", "amber": "orange", "green": "green", "blue": "blue"}
OUTCOMES = {"share": "Share", "share_partial": "Share in part", "decline": "Decline"}
LAWFUL_BASES = {
    "art6_1a_consent": "UK GDPR Art 6(1)(a): consent",
    "art6_1c_legal_obligation": "UK GDPR Art 6(1)(c): legal obligation",
    "art6_1d_vital_interests": "UK GDPR Art 6(1)(d): vital interests",
    "art6_1e_public_task": "UK GDPR Art 6(1)(e): public task",
}
CONDITIONS = {
    "art9_2a_explicit_consent": "Art 9(2)(a): explicit consent",
    "art9_2c_vital_interests": "Art 9(2)(c): vital interests",
    "art9_2g_dpa2018_sch1_para18_safeguarding": (
        "Art 9(2)(g), DPA 2018 Sch 1 para 18: safeguarding of children"
    ),
    "art9_2h_health_or_social_care": "Art 9(2)(h): health or social care",
}
CONSENT = {"given": "Given", "refused": "Refused", "not_sought": "Not sought"}
FAMILY_STEPS = {
    "notified": "Family notified",
    "withheld": "Notification withheld",
    "deferred": "Notification deferred",
    "due": "Family step due",
}
ROLES = {
    "agency": "Agency",
    "hub_officer": "Hub officer",
    "hub_manager": "Hub manager",
    "ig_advisor": "Information governance advisor",
    "auditor": "Auditor",
    "admin": "Administrator",
    "system": "sharehub",
}
SIGN_OFF_REASONS = {
    "sharing_without_consent": "sharing without consent",
    "decided_by_officer": "decided by a hub officer",
}


def label(code: str | None, table: dict[str, str]) -> str:
    """``code`` as ``table`` words it; an unknown code reads as itself, humanised."""
    if code is None:
        return ""
    return table.get(code) or code.replace("_", " ").capitalize()


def event_label(event_type: str) -> str:
    """``DecisionSignedOff`` -> ``Decision signed off``."""
    words = re.findall(r"[A-Z][a-z]*|[0-9]+", event_type)
    return " ".join([words[0], *(w.lower() for w in words[1:])]) if words else event_type


def moment(value: datetime | str | None) -> str:
    """``3 November 2026 at 2:05pm`` in the hub's time zone."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(HUB_TIME_ZONE)
    hour = local.hour % 12 or 12
    return f"{local.day} {local:%B %Y} at {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


def short_moment(value: datetime | None) -> str:
    """``25 Nov, 2:05pm``: for tables, where the year goes without saying."""
    if value is None:
        return ""
    local = value.astimezone(HUB_TIME_ZONE)
    hour = local.hour % 12 or 12
    return f"{local.day} {local:%b}, {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


def day(value: date | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value)
    return f"{value.day} {value:%B %Y}"


def duration(seconds: int | float | None) -> str:
    """``2 h 05 min``, ``25 min``, ``3 days 4 h``: the time left or overdue, unsigned."""
    if seconds is None:
        return ""
    minutes = int(abs(seconds)) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"


def short_id(value: object) -> str:
    """The first block of a UUID, which people can read aloud and search for."""
    return str(value).split("-", 1)[0]


def describe_event(event_type: str, data: dict[str, Any]) -> str:
    """One line saying what an event of a request's timeline recorded (no personal data)."""
    get = data.get
    match event_type:
        case "ShareRequestRaised":
            return f"Raised by {get('referrer_agency')} for {label(get('purpose'), {})}"
        case "TriageRecorded":
            was = f" (was {get('previous_rag')})" if get("previous_rag") else ""
            return f"Rated {get('rag')}{was}: {get('rationale')}"
        case "SlaReminderDue":
            return f"{float(get('fraction') or 0) * 100:.0f}% of the {get('rag')} SLA used"
        case "SlaBreached":
            return f"{get('rag')} SLA breached; escalated to {get('escalated_to')}"
        case "AdviceSought":
            return f"Advice sought: {get('question')}"
        case "AdviceGiven":
            return f"Advice given: {get('advice')}"
        case "DecisionRecorded":
            because = [label(b, SIGN_OFF_REASONS) for b in get("sign_off_needed_because") or []]
            sign_off = f" Needs a second sign-off: {', '.join(because)}." if because else ""
            return f"{label(get('outcome'), OUTCOMES)}: {get('reasons')}{sign_off}"
        case "DecisionSignedOff":
            return "Decision signed off" + (f": {get('comment')}" if get("comment") else "")
        case "DisclosureSent":
            return f"Sent to {get('agency')}: {', '.join(get('categories') or [])}"
        case "DisclosureAcknowledged":
            return f"Acknowledged by {get('agency')}"
        case "AcknowledgementOverdue":
            return f"{get('agency')} has not acknowledged; escalated to {get('escalated_to')}"
        case "ReferrerToldOutcome":
            return f"{get('referrer_agency')} told the outcome: {label(get('outcome'), OUTCOMES)}"
        case "FamilyStepRecorded":
            revisit = f" until {day(get('revisit_on'))}" if get("revisit_on") else ""
            reason = f": {get('reason')}" if get("reason") else ""
            return f"{label(get('kind'), FAMILY_STEPS)}{revisit}{reason}"
        case "FamilyStepDue":
            return f"The family step is due again ({day(get('revisit_on'))})"
        case "ShareRequestWithdrawn":
            return f"Withdrawn: {get('reason')}"
        case "ShareRequestClosed":
            outcome = get("outcome")
            return "Closed" + (f" ({label(outcome, OUTCOMES).lower()})" if outcome else "")
    return ""


def nhs_number(value: str | None) -> str:
    """``9434765919`` as the NHS writes it: ``943 476 5919``."""
    digits = (value or "").replace(" ", "")
    if len(digits) == 10 and digits.isdigit():
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    return value or ""


def sentence(text: str) -> str:
    """A message as a sentence: a capital (unless it starts with a code), a full stop."""
    text = text.strip()
    if "_" not in text.split(" ", 1)[0]:  # a code (share_partial) keeps its spelling
        text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."
