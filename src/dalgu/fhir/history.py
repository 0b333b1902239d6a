"""FHIR history (`_history` of a type or of a resource, and `vread`'s patient): each version
is the record of the patient it names, and read and audited as such."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import orjson

from dalgu.errors import AccessDenied, ResourceNotFound
from dalgu.fhir.consent import Grant
from dalgu.fhir.model import (
    PATIENT_COMPARTMENT,
    RESOURCE_TYPES,
    Principal,
    Resource,
    Role,
    StoredResource,
)
from dalgu.fhir.searchparams import compartment_patient
from dalgu.store.base import FhirStore

if TYPE_CHECKING:
    from dalgu.fhir.service import FhirService


def check_type(type_name: str) -> None:
    if type_name not in RESOURCE_TYPES:
        raise ResourceNotFound(f"this server keeps no {type_name} resources")


def stored_id(resource_id: str) -> bool:
    """Whether `resource_id` could name a stored resource: an id from a URL may hold a NUL
    (`%00`), which none has and PostgreSQL's text cannot even be compared with."""
    return "\x00" not in resource_id


def parse_body(body: bytes | None) -> Resource:
    return orjson.loads(body) if body else {}


async def as_written(
    store: FhirStore, version: StoredResource, base: str | None = None
) -> StoredResource:
    """`version` with the patient whose record it is: the one its own body names (the
    store gives every version the patient of the resource's current one, and a record
    moved to another patient, or an id reused for one, must not open the first patient's
    versions to the second's Consent); a deletion is the record of the version it
    deleted."""
    body = version.body
    if version.deleted and version.version > 1:
        before = await store.fhir_read(version.type, version.id, version.version - 1)
        body = before.body if before is not None else None
    patient = compartment_patient(parse_body(body), base) if body else None
    return replace(version, patient=patient)


async def history_of(
    service: FhirService,
    principal: Principal,
    type_name: str,
    resource_id: str | None,
    *,
    since: float | None = None,
    count: int | None = None,
    offset: int = 0,
    base: str | None = None,
) -> tuple[list[StoredResource], int]:
    interaction = "history-type" if resource_id is None else "history-instance"
    what = [] if resource_id is None else [f"{type_name}/{resource_id}"]
    count = service.count_of(count)
    patients: list[str] = []  # whose records the versions are, also when refused
    try:
        check_type(type_name)
        if resource_id is not None:
            versions, total, grant = await _instance_history(
                service, principal, type_name, resource_id, since, count, offset, patients, base
            )
        else:
            if type_name in PATIENT_COMPARTMENT or type_name == "AuditEvent":
                if principal.role != Role.ADMIN:
                    raise AccessDenied("the history of a whole patient-data type is for admins")
                grant = Grant("role")
            else:
                grant = await service.authorize(principal, type_name, None, write=False)
            versions, total = await service.store.fhir_history(
                type_name, None, since, count, offset
            )
    except Exception as error:  # recorded, then raised as it came
        await service.record_failure(principal, interaction, error, what, patients)
        raise
    await service.audit(
        principal,
        interaction,
        what=what,
        patients=patients,
        broke_glass=grant.broke_glass,
    )
    return versions, total


async def _instance_history(
    service: FhirService,
    principal: Principal,
    type_name: str,
    resource_id: str,
    since: float | None,
    count: int,
    offset: int,
    patients: list[str],
    base: str | None,
) -> tuple[list[StoredResource], int, Grant]:
    """One page of a resource's versions, each the record of the patient it names:
    the caller must be allowed to read every one of them (else 403, the page is not
    cut: its total and links would lie). `patients` is given those patients."""
    current = None
    if stored_id(resource_id):
        current = await service.store.fhir_read(type_name, resource_id)
    if current is None:
        raise ResourceNotFound(f"{type_name}/{resource_id} does not exist")
    found, total = await service.store.fhir_history(type_name, resource_id, since, count, offset)
    versions = [await as_written(service.store, v, base) for v in found]
    # an empty page still needs the right to read the resource
    owners = list(dict.fromkeys(v.patient for v in versions)) if versions else [current.patient]
    patients.extend(p for p in owners if p)
    grants = [await service.authorize(principal, type_name, p, write=False) for p in owners]
    return versions, total, next((g for g in grants if g.broke_glass), grants[0])
