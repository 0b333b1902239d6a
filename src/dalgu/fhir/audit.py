"""AuditEvents: who did what to which records, when, with what outcome (FHIR R4 AuditEvent,
type `rest`, one per interaction).

Every read, vread, history, search, create, update, delete and Bundle writes one. For a
write it is stored in the transaction of the write itself, so no change is committed without
its record; for a read it is stored before the answer leaves. A break-glass access carries
purpose of use `BTG` (`AuditEvent?purpose=BTG` lists them for review). The API never lets
anyone change or delete them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from dalgu.fhir.ids import new_id
from dalgu.fhir.model import ACT_REASON, BREAK_GLASS, Principal, Resource, instant
from dalgu.fhir.searchparams import compartment_patient, index_rows, split_reference
from dalgu.store.base import FhirWrite

EVENT_TYPE = {
    "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
    "code": "rest",
    "display": "Restful Operation",
}
INTERACTIONS = "http://hl7.org/fhir/restful-interaction"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
ROLE_SYSTEM = "urn:dalgu:fhir:role"
ACTIONS = {
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "history-type": "R",
    "search-type": "E",
    "create": "C",
    "update": "U",
    "patch": "U",
    "delete": "D",
    "batch": "E",
    "transaction": "E",
}
SUCCESS, MINOR_FAILURE, SERIOUS_FAILURE = "0", "4", "8"


def _who(principal: Principal) -> dict[str, object]:
    if split_reference(principal.who) is not None:
        return {"reference": principal.who}
    return {"identifier": {"value": principal.who}}


def _text(value: str) -> str:
    """A NUL (from a URL: `Patient/a%00b`) as U+FFFD: no store indexes it, PostgreSQL's text
    cannot hold it, and the record of a refused request must still be written."""
    return value.replace("\x00", "\ufffd")


def audit_event(
    principal: Principal,
    interaction: str,
    *,
    outcome: str = SUCCESS,
    detail: str | None = None,
    what: Iterable[str] = (),
    patients: Iterable[str] = (),
    query: str | None = None,
    broke_glass: bool = False,
) -> Resource:
    """The AuditEvent of one interaction; `what` are references to the resources touched,
    `patients` the ids of the patients whose records they are."""
    purpose: list[dict[str, object]] = []
    if broke_glass:
        coding = {"system": ACT_REASON, "code": BREAK_GLASS, "display": "break the glass"}
        reason = {"text": principal.reason[:500]} if principal.reason else {}
        purpose = [{"coding": [coding], **reason}]
    agent: dict[str, object] = {
        "type": {"coding": [{"system": ROLE_SYSTEM, "code": principal.role.value}]},
        "role": [{"coding": [{"system": ROLE_SYSTEM, "code": principal.role.value}]}],
        "who": _who(principal),
        "requestor": True,
    }
    if purpose:
        agent["purposeOfUse"] = purpose
    entities: list[dict[str, object]] = []
    seen: set[str] = set()
    for patient in patients:
        reference = _text(f"Patient/{patient}")
        if reference not in seen:
            seen.add(reference)
            entities.append(
                {
                    "what": {"reference": reference},
                    "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
                }
            )
    for reference in map(_text, what):
        if reference not in seen:
            seen.add(reference)
            entities.append({"what": {"reference": reference}})
    if query is not None:
        entities.append(
            {
                "type": {"system": OBJECT_ROLE, "code": "24", "display": "Query"},
                "query": base64.b64encode(query.encode()).decode(),
            }
        )
    event: Resource = {
        "resourceType": "AuditEvent",
        "type": EVENT_TYPE,
        "subtype": [{"system": INTERACTIONS, "code": interaction}],
        "action": ACTIONS.get(interaction, "E"),
        "recorded": instant(),
        "outcome": outcome,
        "agent": [agent],
        "source": {"observer": {"display": "Dalgu FHIR server"}},
    }
    if detail:
        event["outcomeDesc"] = _text(detail[:1000])
    if purpose:
        event["purposeOfEvent"] = purpose
    if entities:
        event["entity"] = entities
    return event


def audit_write(event: Resource) -> FhirWrite:
    """The store write of an AuditEvent (a new id, its index rows)."""
    event_id = new_id()
    event = {**event, "id": event_id}
    return FhirWrite(
        "AuditEvent",
        event_id,
        event,
        index_rows(event),
        compartment_patient(event),
        must_create=True,
    )
