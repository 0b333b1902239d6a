"""Consent decides who reaches a patient's records; every interaction leaves an AuditEvent."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import (
    ADMIN,
    as_,
    consent,
    create,
    entries,
    observation,
    patient,
    practitioner_actor,
    role_actor,
)

DOCTOR = as_("clinician", "Practitioner/dr-park")
OTHER_DOCTOR = as_("clinician", "Practitioner/dr-choi")
PARAMEDIC = as_("emergency", "Organization/daegu-119")
BTG = {"X-Dalgu-Purpose-Of-Use": "BTG", "X-Dalgu-Purpose-Reason": "vehicle safety alert"}


@pytest.fixture(autouse=True)
def practitioners(client: TestClient) -> None:
    """The practitioners the Consents name: a reference must name a resource that exists."""
    for pid in ("dr-park", "dr-choi"):
        body = {"resourceType": "Practitioner", "id": pid}
        assert client.put(f"/fhir/Practitioner/{pid}", json=body, headers=ADMIN).status_code == 201


@pytest.fixture
def kim(client: TestClient) -> str:
    pid = create(client, patient())
    create(client, observation(pid))
    return pid


def audits(client: TestClient, query: str) -> list[dict[str, Any]]:
    response = client.get(f"/fhir/AuditEvent?{query}&_count=100", headers=ADMIN)
    assert response.status_code == 200, response.text
    return entries(response.json())


def test_no_consent_no_access(client: TestClient, kim: str) -> None:
    response = client.get(f"/fhir/Patient/{kim}", headers=DOCTOR)
    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"


def test_consent_naming_the_practitioner_grants_read(client: TestClient, kim: str) -> None:
    create(client, consent(kim, practitioner_actor("Practitioner/dr-park")))
    assert client.get(f"/fhir/Patient/{kim}", headers=DOCTOR).status_code == 200
    assert client.get(f"/fhir/Patient/{kim}", headers=OTHER_DOCTOR).status_code == 403


def test_consent_by_role_grants_every_principal_of_that_role(client: TestClient, kim: str) -> None:
    create(client, consent(kim, role_actor("researcher")))
    researcher = as_("researcher", "Practitioner/scientist")
    assert client.get(f"/fhir/Observation?patient={kim}", headers=researcher).json()["total"] == 1
    assert client.get(f"/fhir/Patient/{kim}", headers=DOCTOR).status_code == 403


def test_expired_or_inactive_consent_grants_nothing(client: TestClient, kim: str) -> None:
    expired = consent(kim, practitioner_actor("Practitioner/dr-park"), period={"end": "2020-01-01"})
    create(client, expired)
    draft = consent(kim, practitioner_actor("Practitioner/dr-park")) | {"status": "draft"}
    create(client, draft)
    assert client.get(f"/fhir/Patient/{kim}", headers=DOCTOR).status_code == 403


def test_revoking_consent_takes_effect_at_once(client: TestClient, kim: str) -> None:
    cid = create(client, consent(kim, practitioner_actor("Practitioner/dr-park")))
    assert client.get(f"/fhir/Patient/{kim}", headers=DOCTOR).status_code == 200
    client.delete(f"/fhir/Consent/{cid}", headers=ADMIN)
    assert client.get(f"/fhir/Patient/{kim}", headers=DOCTOR).status_code == 403


def test_search_returns_only_consented_patients(client: TestClient, kim: str) -> None:
    lee = create(client, patient("Lee"))
    create(client, observation(lee))
    create(client, consent(lee, practitioner_actor("Practitioner/dr-park")))
    found = client.get("/fhir/Observation?code=8867-4", headers=DOCTOR).json()
    assert [o["subject"]["reference"] for o in entries(found)] == [f"Patient/{lee}"]


def test_consent_with_read_actions_does_not_allow_writes(client: TestClient, kim: str) -> None:
    actions = [
        {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "access"}
            ]
        }
    ]
    create(client, consent(kim, practitioner_actor("Practitioner/dr-park"), action=actions))
    assert client.get(f"/fhir/Patient/{kim}", headers=DOCTOR).status_code == 200
    assert (
        client.post("/fhir/Observation", json=observation(kim), headers=DOCTOR).status_code == 403
    )


def test_clinician_with_consent_writes_observations(client: TestClient, kim: str) -> None:
    create(client, consent(kim, practitioner_actor("Practitioner/dr-park")))
    assert (
        client.post("/fhir/Observation", json=observation(kim), headers=DOCTOR).status_code == 201
    )


def test_clinician_registers_new_patients_without_consent(client: TestClient, kim: str) -> None:
    """docs/fhir.md: a clinician may register new patients (a new one has no Consent yet);
    reading them back, or changing an existing or deleted one, still needs a Consent."""
    posted = client.post("/fhir/Patient", json=patient("New"), headers=DOCTOR)
    assert posted.status_code == 201, posted.text
    put = client.put("/fhir/Patient/walk-in", json=patient("In", id="walk-in"), headers=DOCTOR)
    assert put.status_code == 201, put.text
    entry = {
        "fullUrl": "urn:uuid:4d2e0000-0000-4000-8000-000000000001",
        "resource": patient("Bundled"),
        "request": {"method": "POST", "url": "Patient"},
    }
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    assert client.post("/fhir", json=bundle, headers=DOCTOR).status_code == 200
    assert client.get("/fhir/Patient?family=New,In,Bundled", headers=ADMIN).json()["total"] == 3
    assert client.get(f"/fhir/Patient/{posted.json()['id']}", headers=DOCTOR).status_code == 403
    again = client.put("/fhir/Patient/walk-in", json=patient("Other", id="walk-in"), headers=DOCTOR)
    assert again.status_code == 403
    existing = client.put(f"/fhir/Patient/{kim}", json=patient(id=kim), headers=DOCTOR)
    assert existing.status_code == 403
    client.delete(f"/fhir/Patient/{kim}", headers=ADMIN)
    deleted = client.put(f"/fhir/Patient/{kim}", json=patient(id=kim), headers=DOCTOR)
    assert deleted.status_code == 403
    researcher = as_("researcher", "Practitioner/scientist")
    assert client.post("/fhir/Patient", json=patient(), headers=researcher).status_code == 403


def test_patient_reads_own_records_and_writes_own_consent_only(
    client: TestClient, kim: str
) -> None:
    lee = create(client, patient("Lee"))
    me = as_("patient", f"Patient/{kim}")
    assert client.get(f"/fhir/Patient/{kim}", headers=me).status_code == 200
    assert client.get(f"/fhir/Patient/{lee}", headers=me).status_code == 403
    assert (
        client.post(
            "/fhir/Consent", json=consent(kim, role_actor("emergency")), headers=me
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/fhir/Consent", json=consent(lee, role_actor("emergency")), headers=me
        ).status_code
        == 403
    )
    assert client.post("/fhir/Observation", json=observation(kim), headers=me).status_code == 403


def test_emergency_without_consent_needs_break_glass(client: TestClient, kim: str) -> None:
    assert client.get(f"/fhir/Patient/{kim}", headers=PARAMEDIC).status_code == 403
    refused = client.get(f"/fhir/Observation?patient={kim}", headers=PARAMEDIC)
    assert refused.status_code == 403 and "BTG" in refused.json()["issue"][0]["diagnostics"]
    response = client.get(f"/fhir/Observation?patient={kim}", headers={**PARAMEDIC, **BTG})
    assert response.status_code == 200 and response.json()["total"] == 1
    assert client.get(f"/fhir/Patient/{kim}", headers={**PARAMEDIC, **BTG}).status_code == 200


def test_break_glass_is_recorded_and_listed_for_review(client: TestClient, kim: str) -> None:
    client.get(f"/fhir/Patient/{kim}", headers={**PARAMEDIC, **BTG})
    events = audits(client, "purpose=BTG")
    assert len(events) == 1
    event = events[0]
    assert event["agent"][0]["who"]["reference"] == "Organization/daegu-119"
    assert event["purposeOfEvent"][0]["text"] == "vehicle safety alert"
    assert {"reference": f"Patient/{kim}"} in [e["what"] for e in event["entity"]]


def test_patient_sees_refused_and_break_glass_attempts_on_their_records(
    client: TestClient, kim: str
) -> None:
    client.get(f"/fhir/Observation?patient={kim}", headers=DOCTOR)  # refused
    client.get(f"/fhir/Encounter?patient={kim}", headers={**PARAMEDIC, **BTG})  # finds nothing
    me = as_("patient", f"Patient/{kim}")
    mine = entries(client.get("/fhir/AuditEvent?_count=100", headers=me).json())
    by = {(e["agent"][0]["who"].get("reference"), e["outcome"]) for e in mine}
    assert ("Practitioner/dr-park", "4") in by
    assert ("Organization/daegu-119", "0") in by


def test_break_glass_is_only_for_emergency_reads(client: TestClient, kim: str) -> None:
    assert client.get(f"/fhir/Patient/{kim}", headers={**DOCTOR, **BTG}).status_code == 403
    write = client.post("/fhir/Observation", json=observation(kim), headers={**PARAMEDIC, **BTG})
    assert write.status_code == 403


def test_reads_writes_searches_and_refusals_are_audited(client: TestClient, kim: str) -> None:
    client.get(f"/fhir/Patient/{kim}", headers=DOCTOR)  # refused
    client.get(f"/fhir/Patient/{kim}", headers=ADMIN)
    client.get(f"/fhir/Observation?patient={kim}", headers=ADMIN)
    about_kim = audits(client, f"patient={kim}")
    kinds = {(e["subtype"][0]["code"], e["outcome"]) for e in about_kim}
    assert ("create", "0") in kinds  # the patient and observation writes
    assert ("read", "0") in kinds
    assert ("search-type", "0") in kinds
    refused = audits(client, "agent=Practitioner/dr-park")
    assert [(e["subtype"][0]["code"], e["outcome"]) for e in refused] == [("read", "4")]


def test_audit_events_cannot_be_written_changed_or_deleted(client: TestClient, kim: str) -> None:
    event = audits(client, "_count=1")[0]
    put = client.put(f"/fhir/AuditEvent/{event['id']}", json=event, headers=ADMIN)
    assert put.status_code == 405
    assert client.delete(f"/fhir/AuditEvent/{event['id']}", headers=ADMIN).status_code == 405
    assert client.post("/fhir/AuditEvent", json=event, headers=ADMIN).status_code == 405
    assert client.get(f"/fhir/AuditEvent/{event['id']}", headers=ADMIN).json() == event


def test_patient_sees_audit_about_them_only(client: TestClient, kim: str) -> None:
    lee = create(client, patient("Lee"))
    me = as_("patient", f"Patient/{kim}")
    mine = entries(client.get("/fhir/AuditEvent?_count=100", headers=me).json())
    assert mine and all(
        {"reference": f"Patient/{kim}"} in [e.get("what") for e in event["entity"]]
        for event in mine
    )
    assert all(
        {"reference": f"Patient/{lee}"} not in [e.get("what") for e in event["entity"]]
        for event in mine
    )
    assert client.get("/fhir/AuditEvent", headers=DOCTOR).status_code == 403


def test_device_writes_observations_of_its_linked_patient_only(
    client: TestClient, kim: str
) -> None:
    lee = create(client, patient("Lee"))
    device = {"resourceType": "Device", "id": "watch-1", "patient": {"reference": f"Patient/{kim}"}}
    client.put("/fhir/Device/watch-1", json=device, headers=ADMIN)
    watch = as_("device", "Device/watch-1")
    linked = observation(kim) | {"device": {"reference": "Device/watch-1"}}
    assert client.post("/fhir/Observation", json=linked, headers=watch).status_code == 201
    other = observation(lee) | {"device": {"reference": "Device/watch-1"}}
    assert client.post("/fhir/Observation", json=other, headers=watch).status_code == 403
    assert client.get(f"/fhir/Observation?patient={kim}", headers=watch).status_code == 403


def test_revinclude_shows_only_the_records_the_caller_may_see(client: TestClient, kim: str) -> None:
    lee = create(client, patient("Lee"))
    create(client, observation(lee))
    create(client, consent(kim, practitioner_actor("Practitioner/dr-park")))
    create(client, consent(lee, practitioner_actor("Practitioner/dr-choi")))

    def seen(headers: dict[str, str]) -> set[tuple[str, str]]:
        url = "/fhir/Patient?_revinclude=Observation:subject"
        bundle = client.get(url, headers=headers).json()
        resources = [e["resource"] for e in bundle["entry"]]
        return {
            (r["resourceType"], r.get("subject", {}).get("reference", r["id"])) for r in resources
        }

    # as admin, both patients come with their observations
    assert seen(ADMIN) == {
        ("Patient", kim),
        ("Patient", lee),
        ("Observation", f"Patient/{kim}"),
        ("Observation", f"Patient/{lee}"),
    }
    # the doctor sees Kim and Kim's observation, nothing of Lee's
    assert seen(DOCTOR) == {("Patient", kim), ("Observation", f"Patient/{kim}")}


def test_a_search_is_audited_under_the_patients_of_what_it_included(
    client: TestClient, kim: str
) -> None:
    device = create(
        client,
        {
            "resourceType": "Device",
            "identifier": [{"system": "urn:dalgu:ngsi-ld", "value": "urn:ngsi-ld:Wearable:w9"}],
        },
    )
    create(client, {**observation(kim), "device": {"reference": f"Device/{device}"}})
    url = "/fhir/Device?identifier=urn:ngsi-ld:Wearable:w9&_revinclude=Observation:device"
    found = client.get(url, headers=ADMIN).json()
    assert [e["search"]["mode"] for e in found["entry"]] == ["match", "include"]
    searches = [
        e for e in audits(client, f"patient={kim}") if e["subtype"][0]["code"] == "search-type"
    ]
    assert len(searches) == 1  # the device has no patient: only its included observation does


@pytest.mark.parametrize(
    "subject",
    [
        {"reference": "#p1"},
        {"identifier": {"system": "urn:mrn", "value": "K-1"}, "display": "Kim Minji"},
        {"reference": "Patient?identifier=urn:mrn|K-1"},
    ],
)
def test_a_record_naming_no_patient_by_reference_is_for_admins_only(
    client: TestClient, kim: str, subject: dict[str, Any]
) -> None:
    """A contained patient or an identifier alone puts a record in no compartment a Consent
    reaches: reading it is refused to every other role, as searching already hides it."""
    contained = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Kim"}]}
    obs = observation(kim) | {"subject": subject, "contained": [contained]}
    if subject.get("reference") != "#p1":
        del obs["contained"]
    oid = create(client, obs)
    create(client, consent(kim, role_actor("researcher")))
    researcher = as_("researcher", "Organization/knu")
    for url in (f"/fhir/Observation/{oid}", f"/fhir/Observation/{oid}/_history/1"):
        assert client.get(url, headers=researcher).status_code == 403, url
        assert client.get(url, headers=DOCTOR).status_code == 403, url
        assert client.get(url, headers=ADMIN).status_code == 200, url


def test_a_device_linked_to_no_patient_is_read_and_found_by_every_role(
    client: TestClient, kim: str
) -> None:
    spare = create(client, {"resourceType": "Device", "status": "active"})
    worn = create(client, {"resourceType": "Device", "patient": {"reference": f"Patient/{kim}"}})
    researcher = as_("researcher", "Organization/knu")
    assert client.get(f"/fhir/Device/{spare}", headers=researcher).status_code == 200
    assert client.get(f"/fhir/Device/{worn}", headers=researcher).status_code == 403
    found = client.get("/fhir/Device", headers=researcher).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [spare]


def test_audit_patient_is_the_patient_as_agent_or_as_entity(client: TestClient, kim: str) -> None:
    """R4 AuditEvent-patient: `agent.who` or `entity.what` that is a Patient: what a patient
    did (read a practitioner) is hers as what was done to her record is."""
    me = as_("patient", f"Patient/{kim}")
    assert client.get("/fhir/Practitioner/dr-park", headers=me).status_code == 200
    query = "entity=Practitioner/dr-park&subtype=read"
    (event,) = audits(client, f"{query}&agent=Patient/{kim}")
    assert [e["id"] for e in audits(client, f"{query}&patient={kim}")] == [event["id"]]
    assert any(e["id"] == event["id"] for e in audits(client, f"patient={kim}"))
    # hers to see, by search and by read
    mine = entries(client.get(f"/fhir/AuditEvent?{query}", headers=me).json())
    assert [e["id"] for e in mine] == [event["id"]]
    assert client.get(f"/fhir/AuditEvent/{event['id']}", headers=me).status_code == 200
    lee = create(client, patient("Lee"))
    assert audits(client, f"{query}&patient={lee}") == []
