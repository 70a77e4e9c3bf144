"""Raise validation: every reason a share request may not be raised, before anything exists.

Run by whatever starts the workflow (CLI, API, bus intake), so that an invalid
request leaves no workflow and no event behind. Pure: the agreement in force is
passed in.
"""

from __future__ import annotations

from workflows.details import PersonRole
from workflows.models import RaiseShareRequest, Role
from workflows.policy import DataSharingAgreement


def raise_problems(request: RaiseShareRequest, policy: DataSharingAgreement) -> list[str]:
    """Specific, human-readable problems; empty when the request may be raised."""
    problems: list[str] = []
    referrer = request.referrer
    if referrer.role is not Role.AGENCY:
        problems.append(f"share requests are raised by agencies, not by a {referrer.role.value}")
    else:
        agency = policy.agency(referrer.agency or "")
        if agency is None or not agency.signatory:
            problems.append(
                f"{referrer.agency} is not a signatory of the data sharing agreement "
                f"{policy.id} v{policy.version}"
            )
    requested = {r.agency: r.categories for r in request.recipients}
    if len(requested) != len(request.recipients):
        problems.append("each recipient agency appears once")
    problems.extend(str(v) for v in policy.check_recipients(requested, purpose=request.purpose))
    problems.extend(
        str(v)
        for v in policy.check_lawful_basis(
            basis=request.lawful_basis,
            condition=request.condition,
            categories={c for categories in requested.values() for c in categories},
            consent=request.consent,
        )
    )
    children = [p for p in request.details.people if p.role is PersonRole.CHILD]
    if not children:
        problems.append("the request names the child it is about (a person with role child)")
    nhs_number = request.child.nhs_number
    if nhs_number is not None and children:
        recorded = children[0].identifiers.nhs_number
        if recorded is not None and recorded != nhs_number:
            problems.append("the child's NHS number differs between the identifier and details")
    return problems
