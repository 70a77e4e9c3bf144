"""The decision report as a FHIR R5 Bundle, for auditors' own tools (golden rule 7).

The same record as the CSV and JSON renderings of :mod:`workers.audit.report_formats`
(which serves this one as its ``fhir`` format), in the resources FHIR defines for it:

- per decision, an ``AuditEvent`` — the decision as an auditable event: who decided
  (and who signed off), when, the outcome, and entities for the share request and
  each disclosure sent, whose details carry the lawful basis, reasons, consent,
  caveats and SLA exactly as the report's row has them;
- per decision, a ``Provenance`` whose target is that AuditEvent and the request:
  who is answerable for the decision (author, and verifier for the second sign-off),
  the data sharing agreement's version as policy, the lawful basis as authorization;
- per view in the access log (when included), an ``AuditEvent`` with action ``R``.

Every resource is built through the ``fhir.resources`` models, which validate on
construction, so a bundle that would not validate is never produced. Resource ids
and ``urn:uuid:`` full URLs are derived from the recorded event's id (UUID v5), so
a report run twice names each resource the same way. The child appears only as the
report's ``child`` detail — the same text as the CSV column, ``[redacted]`` once the
subject's key is shredded — and never in a display text. Each agent's ``who``
carries the actor id as recorded as its identifier (``urn:sharehub:actor``: an API
client's id, or in older events the client's name) and the client's name as its
display.

sharehub's own codes use ``urn:sharehub:*`` systems (no web home is implied);
standard HL7 code systems are used where one says exactly what is meant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid5

import fhir.resources
from fhir.resources.auditevent import (
    AuditEvent,
    AuditEventAgent,
    AuditEventEntity,
    AuditEventEntityDetail,
    AuditEventOutcome,
    AuditEventSource,
)
from fhir.resources.bundle import Bundle, BundleEntry
from fhir.resources.codeableconcept import CodeableConcept
from fhir.resources.codeablereference import CodeableReference
from fhir.resources.coding import Coding
from fhir.resources.identifier import Identifier
from fhir.resources.provenance import Provenance, ProvenanceAgent, ProvenanceEntity
from fhir.resources.reference import Reference
from pydantic import TypeAdapter

from events.envelope import Actor
from workers.audit.report_models import AccessRow, DecisionReport, DecisionRow

# The package's top-level models are one FHIR release; these resources are shaped for R5
# (AuditEvent.occurredDateTime, Provenance.authorization as CodeableReference).
if not fhir.resources.__fhir_version__.startswith("5."):
    raise ImportError(
        "workers.audit.report_fhir builds FHIR R5; "
        f"fhir.resources is {fhir.resources.__fhir_version__}"
    )

FHIR_MEDIA_TYPE = "application/fhir+json"

# sharehub's identifier and code systems.
ACTOR_SYSTEM = "urn:sharehub:actor"
ROLE_SYSTEM = "urn:sharehub:role"
AGENCY_SYSTEM = "urn:sharehub:agency"
REQUEST_SYSTEM = "urn:sharehub:share-request"
DISCLOSURE_SYSTEM = "urn:sharehub:disclosure"
EVENT_TYPE_SYSTEM = "urn:sharehub:event-type"
CATEGORY_SYSTEM = "urn:sharehub:audit-category"
OUTCOME_SYSTEM = "urn:sharehub:decision-outcome"
LAWFUL_BASIS_SYSTEM = "urn:sharehub:lawful-basis"
CONDITION_SYSTEM = "urn:sharehub:processing-condition"
PURPOSE_SYSTEM = "urn:sharehub:purpose"
DETAIL_SYSTEM = "urn:sharehub:audit-detail"
SYSTEM_ID = "sharehub"

# HL7 terminology.
_AUDIT_OUTCOME = "http://terminology.hl7.org/CodeSystem/audit-event-outcome"
_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
_PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
_DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
_URI_IDENTIFIER = "urn:ietf:rfc:3986"

# Fixed forever: changing it would rename every resource of every past report.
_NAMESPACE = uuid5(UUID(int=0), "urn:sharehub:fhir")

_DURATION = TypeAdapter(timedelta)

_OUTCOME_LABELS = {
    "share": "Share",
    "share_partial": "Share in part",
    "decline": "Decline to share",
}


def resource_id(kind: str, event_id: UUID) -> UUID:
    """The stable id of the ``kind`` resource that renders the recorded event ``event_id``."""
    return uuid5(_NAMESPACE, f"{kind}/{event_id}")


def fhir_bundle(report: DecisionReport) -> Bundle:
    """The report as a validated FHIR R5 ``Bundle`` of type ``collection``.

    Entries: per decision its AuditEvent then its Provenance, in the report's order;
    then one AuditEvent per view when the access log is included.
    """
    entries: list[BundleEntry] = []
    for row in report.decisions:
        audit_event = decision_audit_event(row)
        entries.append(_entry(audit_event))
        entries.append(_entry(decision_provenance(row)))
    for view in report.access_log or ():
        entries.append(_entry(access_audit_event(view)))
    bundle_id = uuid5(
        _NAMESPACE,
        "Bundle/"
        + "/".join(
            (
                report.period.start.isoformat(),
                report.period.end.isoformat(),
                report.agency or "",
                report.generated_at.isoformat(),
            )
        ),
    )
    return Bundle(
        id=str(bundle_id),
        identifier=Identifier(system=_URI_IDENTIFIER, value=f"urn:uuid:{bundle_id}"),
        type="collection",
        timestamp=report.generated_at,
        entry=entries,
    )


def _entry(resource: AuditEvent | Provenance) -> BundleEntry:
    return BundleEntry(fullUrl=f"urn:uuid:{resource.id}", resource=resource)


# ----------------------------------------------------------------------- decisions


def decision_audit_event(row: DecisionRow) -> AuditEvent:
    """The decision as an AuditEvent: action C (a decision record was created)."""
    agents = [
        _audit_agent(
            row.decided_by, row.decided_by_name, "AUT", "author (originator)", row, requestor=True
        )
    ]
    if row.signed_off_by is not None:
        agents.append(
            _audit_agent(
                row.signed_off_by,
                row.signed_off_by_name or row.signed_off_by.id,
                "VRF",
                "verifier",
                row,
                requestor=False,
            )
        )
    return AuditEvent(
        id=str(resource_id("AuditEvent", row.decision_event_id)),
        category=[
            _concept(
                CATEGORY_SYSTEM,
                "information-sharing-decision",
                "Information sharing decision (golden rule 7)",
            )
        ],
        code=_concept(EVENT_TYPE_SYSTEM, "DecisionRecorded", "Decision recorded"),
        action="C",
        occurredDateTime=row.decided_at,
        recorded=row.decided_at,
        # The audited action succeeded (the decision was recorded); what was decided
        # is the detail.
        outcome=AuditEventOutcome(
            code=Coding(system=_AUDIT_OUTCOME, code="0", display="Success"),
            detail=[_concept(OUTCOME_SYSTEM, row.outcome, _OUTCOME_LABELS[row.outcome])],
        ),
        authorization=[_concept(PURPOSE_SYSTEM, row.purpose)],
        agent=agents,
        source=_source(),
        entity=[_request_entity(row), *(_disclosure_entities(row))],
    )


def _audit_agent(
    actor: Actor, name: str, code: str, display: str, row: DecisionRow, *, requestor: bool
) -> AuditEventAgent:
    return AuditEventAgent(
        type=_concept(_PARTICIPATION, code, display),
        role=[_concept(ROLE_SYSTEM, actor.role)],
        who=_actor_reference(actor, name),
        requestor=requestor,
        policy=[_agreement_uri(row.policy_version)],
    )


def _request_entity(row: DecisionRow) -> AuditEventEntity:
    details: list[tuple[str, str | bool | datetime | None]] = [
        ("outcome", row.outcome),
        ("lawful_basis", row.lawful_basis),
        ("condition", row.condition),
        ("reasons", row.reasons),
        ("why_not_sharing_is_less_detrimental", row.why_not_sharing_is_less_detrimental),
        ("consent", row.consent),
        ("consent_note", row.consent_note),
        *(("caveat", caveat) for caveat in row.caveats),
        *(
            ("share", f"{share.agency}: {', '.join(share.categories)} ({share.purpose})")
            for share in row.shares
        ),
        ("purpose", row.purpose),
        ("referrer_agency", row.referrer_agency),
        ("child", row.child),
        ("raised_at", row.raised_at),
        ("rag", row.rag),
        ("previous_rag", row.previous_rag),
        ("sla_deadline", row.sla_deadline),
        ("sla_met", row.sla_met),
        ("sla_breached_by", _iso_duration(row)),
        ("sign_off_needed", row.sign_off_needed),
        *(("sign_off_needed_because", reason) for reason in row.sign_off_needed_because),
        ("signed_off_at", row.signed_off_at),
        ("referrer_told_at", row.referrer_told_at),
        ("family_step", row.family_step.kind if row.family_step else None),
        ("family_step_reason", row.family_step.reason if row.family_step else None),
        (
            "family_revisit_on",
            row.family_step.revisit_on.isoformat()
            if row.family_step and row.family_step.revisit_on
            else None,
        ),
        ("policy_version", row.policy_version),
        ("decision_event_id", str(row.decision_event_id)),
        ("decision_position", str(row.decision_position)),
    ]
    return AuditEventEntity(
        what=_request_reference(row.request_id),
        securityLabel=[_concept(_CONFIDENTIALITY, "R", "restricted")],
        detail=_details(details),
    )


def _disclosure_entities(row: DecisionRow) -> list[AuditEventEntity]:
    return [
        AuditEventEntity(
            what=Reference(
                identifier=Identifier(system=DISCLOSURE_SYSTEM, value=str(d.disclosure_id)),
                display=f"Disclosure to {d.agency}",
            ),
            securityLabel=[_concept(_CONFIDENTIALITY, "R", "restricted")],
            detail=_details(
                [
                    ("agency", d.agency),
                    *(("category", category) for category in d.categories),
                    ("sent_at", d.sent_at),
                    ("acknowledge_by", d.acknowledge_by),
                    ("acknowledged", d.acknowledged_at is not None),
                    ("acknowledged_at", d.acknowledged_at),
                ]
            ),
        )
        for d in row.disclosures
    ]


def decision_provenance(row: DecisionRow) -> Provenance:
    """Who answers for the decision, under which agreement and lawful basis."""
    audit_event_id = resource_id("AuditEvent", row.decision_event_id)
    agents = [_provenance_agent(row.decided_by, row.decided_by_name, "author", "Author")]
    if row.signed_off_by is not None:
        agents.append(
            _provenance_agent(
                row.signed_off_by,
                row.signed_off_by_name or row.signed_off_by.id,
                "verifier",
                "Verifier",
            )
        )
    authorization = [
        CodeableReference(concept=_concept(LAWFUL_BASIS_SYSTEM, row.lawful_basis)),
    ]
    if row.condition is not None:
        authorization.append(CodeableReference(concept=_concept(CONDITION_SYSTEM, row.condition)))
    return Provenance(
        id=str(resource_id("Provenance", row.decision_event_id)),
        target=[
            Reference(reference=f"urn:uuid:{audit_event_id}", type="AuditEvent"),
            _request_reference(row.request_id),
        ],
        occurredDateTime=row.decided_at,
        recorded=row.decided_at,
        policy=[_agreement_uri(row.policy_version)],
        authorization=authorization,
        activity=CodeableConcept(
            coding=[
                Coding(system=_DATA_OPERATION, code="CREATE", display="create"),
                Coding(system=EVENT_TYPE_SYSTEM, code="DecisionRecorded"),
            ],
            text=f"Information sharing decision: {_OUTCOME_LABELS[row.outcome].lower()}",
        ),
        agent=agents,
        entity=[ProvenanceEntity(role="source", what=_request_reference(row.request_id))],
    )


def _provenance_agent(actor: Actor, name: str, code: str, display: str) -> ProvenanceAgent:
    return ProvenanceAgent(
        type=_concept(_PROVENANCE_AGENT, code, display),
        role=[_concept(ROLE_SYSTEM, actor.role)],
        who=_actor_reference(actor, name),
        onBehalfOf=_agency_reference(actor.agency) if actor.agency else None,
    )


# ----------------------------------------------------------------------- the access log


def access_audit_event(row: AccessRow) -> AuditEvent:
    """One person's read of a request or disclosure: action R."""
    viewer = Actor(id=row.viewer_id, role=row.viewer_role, agency=row.viewer_agency)
    entities = [_request_entity_for_view(row)]
    if row.record == "disclosure":
        entities.append(
            AuditEventEntity(
                what=Reference(
                    identifier=Identifier(system=DISCLOSURE_SYSTEM, value=str(row.record_id)),
                    display="Disclosure",
                )
            )
        )
    return AuditEvent(
        id=str(resource_id("AuditEvent", row.event_id)),
        category=[_concept(CATEGORY_SYSTEM, "record-access", "Record access")],
        code=_concept(EVENT_TYPE_SYSTEM, "RecordViewed", "Record viewed"),
        action="R",
        occurredDateTime=row.viewed_at,
        recorded=row.viewed_at,
        outcome=AuditEventOutcome(code=Coding(system=_AUDIT_OUTCOME, code="0", display="Success")),
        agent=[
            AuditEventAgent(
                role=[_concept(ROLE_SYSTEM, row.viewer_role)],
                who=_actor_reference(viewer, row.viewer_name),
                requestor=True,
            )
        ],
        source=_source(),
        entity=entities,
    )


def _request_entity_for_view(row: AccessRow) -> AuditEventEntity:
    return AuditEventEntity(
        what=_request_reference(row.request_id),
        securityLabel=[_concept(_CONFIDENTIALITY, "R", "restricted")],
        detail=_details(
            [
                ("record", row.record),
                ("record_id", str(row.record_id)),
                ("via", row.via),
                ("event_position", str(row.position)),
            ]
        ),
    )


# ----------------------------------------------------------------------- building blocks


def _concept(system: str, code: str, display: str | None = None) -> CodeableConcept:
    return CodeableConcept(coding=[Coding(system=system, code=code, display=display)])


def _actor_reference(actor: Actor, name: str) -> Reference:
    """The actor as recorded (the identifier: an API client's id, or in older events
    its name) and as people read it (the display: the client's name)."""
    label = actor.role if actor.agency is None else f"{actor.role}, {actor.agency}"
    return Reference(
        identifier=Identifier(system=ACTOR_SYSTEM, value=actor.id),
        display=f"{name} ({label})",
    )


def _agency_reference(agency: str) -> Reference:
    return Reference(
        type="Organization",
        identifier=Identifier(system=AGENCY_SYSTEM, value=agency),
        display=agency,
    )


def _request_reference(request_id: UUID) -> Reference:
    # A logical reference: the request is not a FHIR resource of this bundle.
    return Reference(
        identifier=Identifier(system=REQUEST_SYSTEM, value=str(request_id)),
        display=f"Share request {request_id}",
    )


def _source() -> AuditEventSource:
    return AuditEventSource(
        observer=Reference(
            identifier=Identifier(system=ACTOR_SYSTEM, value=SYSTEM_ID), display=SYSTEM_ID
        ),
        type=[_concept(_SOURCE_TYPE, "4", "Application Server")],
    )


def _agreement_uri(policy_version: str) -> str:
    return f"urn:sharehub:data-sharing-agreement:{policy_version}"


def _details(
    values: list[tuple[str, str | bool | datetime | None]],
) -> list[AuditEventEntityDetail]:
    """Typed details, leaving out what is absent (FHIR has no empty strings)."""
    details: list[AuditEventEntityDetail] = []
    for name, value in values:
        kind = _concept(DETAIL_SYSTEM, name)
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            details.append(AuditEventEntityDetail(type=kind, valueBoolean=value))
        elif isinstance(value, datetime):
            details.append(AuditEventEntityDetail(type=kind, valueDateTime=value))
        else:
            details.append(AuditEventEntityDetail(type=kind, valueString=value))
    return details


def _iso_duration(row: DecisionRow) -> str | None:
    """The SLA breach as an ISO 8601 duration, as the JSON report spells it."""
    if row.sla_breached_by is None:
        return None
    return str(_DURATION.dump_python(row.sla_breached_by, mode="json"))
