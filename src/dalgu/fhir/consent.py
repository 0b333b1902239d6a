"""Who may do what with a patient's data: the role of the principal and the patient's Consent.

A clinician, researcher or emergency service reaches a patient's compartment only through an
active Consent of that patient (`scope` patient-privacy, `provision.type` permit, inside
`provision.period`) that names them in `provision.actor`: by reference (`Practitioner/p1`),
or by role (`role` coded `urn:dalgu:fhir:role|clinician` with a `reference` that has only a
display), and whose `provision.action`, when given, covers the interaction (`access`/`use`
to read, `collect`/`correct` to write). A nested `deny` provision naming the actor takes that
back. Without such a Consent, an emergency principal may still read by breaking the glass
(purpose of use `BTG`): the access is allowed and its AuditEvent says so, for review.

Patients read their own compartment and write their own Consents; a device writes the
Observations of the patient its Device is linked to; admins run the platform. A resource of a
compartment type that names no Patient of this server by reference (a contained patient, an
identifier alone) is in no compartment a Consent reaches: admins alone read it, as only
admins find it by searching; a Device linked to no patient is open to every role.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from dalgu.errors import AccessDenied
from dalgu.fhir.dates import date_range
from dalgu.fhir.model import (
    OPEN_WHEN_UNLINKED,
    PATIENT_COMPARTMENT,
    Principal,
    Resource,
    Role,
)
from dalgu.fhir.searchparams import local_target

ROLE_SYSTEM = "urn:dalgu:fhir:role"
SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
READ_ACTIONS = frozenset({"access", "use"})
WRITE_ACTIONS = frozenset({"collect", "correct"})
CONSENTED_ROLES = frozenset({Role.CLINICIAN, Role.RESEARCHER, Role.EMERGENCY})
WRITING_ROLES = frozenset({Role.CLINICIAN})

#: the active Consents of one patient, or those naming an actor (reference or role), each
#: with the patient of this server it is of (the store's, from the write: `local_target`)
ConsentSource = Callable[
    [str | None, str | None, str | None], Awaitable[list[tuple[str | None, Resource]]]
]


@dataclass(frozen=True, slots=True)
class Grant:
    """Why an access is allowed: `role`, `own`, `consent`, `break-glass` or `registration`
    (a clinician creating a new patient)."""

    via: str

    @property
    def broke_glass(self) -> bool:
        return self.via == "break-glass"


def _codes(concepts: Any) -> set[tuple[str, str]]:
    out = set()
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        if isinstance(concept, dict):
            for coding in concept.get("coding") or []:
                out.add((coding.get("system") or "", coding.get("code") or ""))
    return out


def _names(actor: dict[str, Any], principal: Principal) -> bool:
    """An actor with a literal reference names that party only, when it is a party of this
    server (`Practitioner/p1`: an absolute URL is another server's, `local_target`); one
    whose reference has none (`{"display": "any emergency service"}`) names everyone of its
    Dalgu role."""
    reference = (actor.get("reference") or {}).get("reference")
    if isinstance(reference, str) and reference:
        target = local_target(reference)
        return target is not None and "/".join(target) == principal.who
    return (ROLE_SYSTEM, principal.role.value) in _codes(actor.get("role"))


def _within(period: Any, now: float) -> bool:
    if not isinstance(period, dict):
        return True
    try:
        if period.get("start") and date_range(period["start"])[0] > now:
            return False
        return not (period.get("end") and date_range(period["end"])[1] < now)
    except Exception:
        return False


def _covers(provision: dict[str, Any], write: bool) -> bool:
    actions = {code for _, code in _codes(provision.get("action"))}
    return not actions or bool(actions & (WRITE_ACTIONS if write else READ_ACTIONS))


def permits(consent: Resource, principal: Principal, *, write: bool, now: float) -> bool:
    """Whether this Consent lets `principal` read (or write) its patient's data now."""
    if consent.get("status") != "active":
        return False
    if (SCOPE_SYSTEM, "patient-privacy") not in _codes(consent.get("scope")):
        return False
    provision = consent.get("provision")
    if not isinstance(provision, dict) or provision.get("type") != "permit":
        return False
    if not _within(provision.get("period"), now):
        return False
    actors = [a for a in provision.get("actor") or [] if isinstance(a, dict)]
    if not any(_names(a, principal) for a in actors) or not _covers(provision, write):
        return False
    for nested in provision.get("provision") or []:
        if not isinstance(nested, dict) or nested.get("type") != "deny":
            continue
        named = [a for a in nested.get("actor") or [] if isinstance(a, dict)]
        applies = not named or any(_names(a, principal) for a in named)
        if applies and _covers(nested, write) and _within(nested.get("period"), now):
            return False
    return True


class ConsentPolicy:
    """Decides each access; `consents(patient, actor, role)` finds active Consents."""

    def __init__(self, consents: ConsentSource) -> None:
        self.consents = consents

    async def authorize(
        self,
        principal: Principal,
        type_name: str,
        patient: str | None,
        *,
        write: bool,
        new: bool = False,
    ) -> Grant:
        """Allow `principal` to read (or write) a `type_name` resource in `patient`'s
        compartment (None: outside any), or raise AccessDenied. `new`: the write creates a
        resource of which no version exists."""
        role = principal.role
        if role == Role.ADMIN:
            return Grant("role")
        if write and new and role == Role.CLINICIAN and type_name == "Patient":
            return Grant("registration")  # a new patient, who has no Consent yet
        if type_name == "AuditEvent":
            if role == Role.PATIENT and not write and patient == principal.patient:
                return Grant("own")
            raise AccessDenied("audit records are for admins, and for patients about them")
        unlinked = patient is None and type_name not in OPEN_WHEN_UNLINKED
        if unlinked and type_name in PATIENT_COMPARTMENT and not write:
            # its subject is not a Patient of this server by reference (a contained patient,
            # an identifier or a display alone): no Consent can reach it, as searches do not
            raise AccessDenied(
                f"this {type_name} names no Patient of this server (its subject or patient is"
                " not a Patient/[id] reference): it is readable by admins only"
            )
        if patient is None or type_name not in PATIENT_COMPARTMENT:
            if not write:
                return Grant("role")
            raise AccessDenied(f"a {role.value} cannot write {type_name} resources")
        if role == Role.PATIENT:
            if patient != principal.patient:
                raise AccessDenied("a patient reaches only their own records")
            if write and type_name != "Consent":
                raise AccessDenied("a patient writes only their own Consents")
            return Grant("own")
        if role == Role.DEVICE:
            raise AccessDenied("a device writes Observations of its own patient only")
        if type_name == "Consent" and write:
            raise AccessDenied("a Consent is written by its patient (or an admin)")
        if write and role not in WRITING_ROLES:
            raise AccessDenied(f"a {role.value} only reads")
        now = time.time()
        for _, consent in await self.consents(patient, None, None):
            if permits(consent, principal, write=write, now=now):
                return Grant("consent")
        if role == Role.EMERGENCY and principal.breaks_glass and not write:
            return Grant("break-glass")
        raise AccessDenied(
            f"no active Consent of Patient/{patient} permits this {role.value}"
            + (" (break the glass: purpose of use BTG)" if role == Role.EMERGENCY else "")
        )

    async def visible_patients(self, principal: Principal) -> frozenset[str] | None:
        """The patients whose compartments a search by `principal` may return; None when
        it is not restricted (admin)."""
        if principal.role == Role.ADMIN:
            return None
        if principal.role == Role.PATIENT:
            return frozenset([principal.patient] if principal.patient else [])
        if principal.role not in CONSENTED_ROLES:
            return frozenset()
        found = await self.consents(None, principal.who, None)
        found += await self.consents(None, None, principal.role.value)
        now = time.time()
        return frozenset(
            patient
            for patient, c in found
            if patient is not None and permits(c, principal, write=False, now=now)
        )


def load(body: bytes | None) -> Resource:
    return orjson.loads(body) if body else {}
