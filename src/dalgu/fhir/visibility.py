"""What a FHIR search may return to its caller: the patients whose records a principal may
see (by active Consent, by role, by breaking the glass), applied to the search."""

from __future__ import annotations

from dataclasses import replace

from dalgu.errors import AccessDenied
from dalgu.fhir.consent import ConsentPolicy
from dalgu.fhir.model import OPEN_WHEN_UNLINKED, PATIENT_COMPARTMENT, Principal, Role
from dalgu.fhir.search import Clause, RefValue, SearchQuery, named_patients
from dalgu.fhir.searchparams import PARAMETERS


async def restrict(
    policy: ConsentPolicy, principal: Principal, query: SearchQuery
) -> tuple[SearchQuery, bool]:
    """The query limited to what `principal` may see, and whether it broke the glass."""
    if principal.role == Role.ADMIN:
        return query, False
    if query.type == "AuditEvent":
        if principal.role != Role.PATIENT or principal.patient is None:
            raise AccessDenied("audit records are for admins, and for patients about them")
        own = Clause(PARAMETERS["AuditEvent"]["patient"], (RefValue("Patient", principal.patient),))
        return replace(query, clauses=(*query.clauses, own)), False
    if query.type not in PATIENT_COMPARTMENT:
        return query, False
    if principal.role == Role.DEVICE:
        raise AccessDenied("a device does not search patient records")
    visible = await policy.visible_patients(principal)
    broke_glass = False
    named = named_patients(query)
    if visible is not None and principal.role == Role.EMERGENCY and principal.breaks_glass:
        extra = named - visible
        if extra:
            visible, broke_glass = visible | extra, True
    if visible is not None and named and not named & visible:
        # a search for one patient's records that could only come back empty is a refusal
        hint = " (break the glass: purpose of use BTG)" if principal.role == Role.EMERGENCY else ""
        raise AccessDenied(
            f"no active Consent of Patient/{sorted(named)[0]} permits this "
            f"{principal.role.value}{hint}"
        )
    unlinked = query.type in OPEN_WHEN_UNLINKED
    return replace(query, patients=visible, unlinked=unlinked), broke_glass
