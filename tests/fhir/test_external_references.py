"""An absolute reference to another server's resource is "the location of the resource ... on
another server" (R4 references.html): never this server's resource that has the same id. It
is indexed and searched as that URL, puts its record in no patient's compartment, and names no
party of a Consent; a URL under this server's own base is its resource. On both stores."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import (
    ADMIN,
    as_,
    consent,
    entries,
    observation,
    patient,
    practitioner_actor,
)

OTHER = "http://other.example/fhir"
HERE = "http://testserver/fhir"  # the TestClient's base
DOCTOR = as_("clinician", "Practitioner/dr-park")


def put(client: TestClient, resource: dict[str, Any]) -> None:
    url = f"/fhir/{resource['resourceType']}/{resource['id']}"
    response = client.put(url, json=resource, headers=ADMIN)
    assert response.status_code == 201, response.text


def ids(client: TestClient, query: str) -> list[str]:
    response = client.get(f"/fhir/{query}", headers=ADMIN)
    assert response.status_code == 200, response.text
    return sorted(f"{e['resourceType']}/{e['id']}" for e in entries(response.json()))


def included(client: TestClient, query: str) -> list[str]:
    bundle = client.get(f"/fhir/{query}", headers=ADMIN).json()
    return sorted(
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "include"
    )


@pytest.fixture
def records(client: TestClient) -> None:
    """Local Patient/p1 with one Observation by a relative reference and one by this server's
    absolute URL; Observation `ext` of another server's Patient/p1."""
    put(client, patient(id="p1"))
    put(client, {"resourceType": "Practitioner", "id": "dr-park"})
    put(client, observation("p1") | {"id": "rel"})
    put(client, observation("p1") | {"id": "abs", "subject": {"reference": f"{HERE}/Patient/p1"}})
    put(client, observation("p1") | {"id": "ext", "subject": {"reference": f"{OTHER}/Patient/p1"}})


@pytest.mark.usefixtures("records")
def test_a_search_for_this_servers_patient_finds_none_of_another_servers(
    client: TestClient,
) -> None:
    mine = ["Observation/abs", "Observation/rel"]
    assert ids(client, "Observation?patient=p1") == mine
    assert ids(client, "Observation?subject=Patient/p1") == mine
    assert ids(client, f"Observation?subject={HERE}/Patient/p1") == mine
    assert ids(client, "Observation?patient=p1&code=8867-4") == mine
    assert ids(client, f"Observation?subject={OTHER}/Patient/p1") == ["Observation/ext"]
    assert ids(client, f"Observation?patient={OTHER}/Patient/p1") == ["Observation/ext"]
    # one patient and a code: the search drives through that patient's code rows
    assert ids(client, f"Observation?patient={OTHER}/Patient/p1&code=8867-4") == ["Observation/ext"]
    assert ids(client, f"Observation?subject={OTHER}/Patient/p1/_history/3") == ["Observation/ext"]


@pytest.mark.usefixtures("records")
def test_include_and_revinclude_follow_this_servers_references_only(client: TestClient) -> None:
    revinclude = "Patient?_id=p1&_revinclude=Observation:subject"
    assert included(client, revinclude) == ["Observation/abs", "Observation/rel"]
    assert included(client, "Observation?_id=ext&_include=Observation:subject") == []
    assert included(client, "Observation?_id=abs&_include=Observation:subject") == ["Patient/p1"]


@pytest.mark.usefixtures("records")
def test_another_servers_patients_record_is_not_released_by_this_ones_consent(
    client: TestClient,
) -> None:
    response = client.post(
        "/fhir/Consent",
        json=consent("p1", practitioner_actor("Practitioner/dr-park")),
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    assert client.get("/fhir/Observation/rel", headers=DOCTOR).status_code == 200
    assert client.get("/fhir/Observation/abs", headers=DOCTOR).status_code == 200
    assert client.get("/fhir/Observation/abs/_history/1", headers=DOCTOR).status_code == 200
    assert client.get("/fhir/Observation/ext", headers=DOCTOR).status_code == 403
    found = client.get("/fhir/Observation?code=8867-4", headers=DOCTOR).json()
    assert sorted(o["id"] for o in entries(found)) == ["abs", "rel"]
    # the refused read is audited about no patient: it is nobody's record here
    refused = ids(client, "AuditEvent?entity=Observation/ext&outcome=4")
    assert len(refused) == 1
    event = client.get(f"/fhir/{refused[0]}", headers=ADMIN).json()
    assert {"reference": "Patient/p1"} not in [e.get("what") for e in event["entity"]]
    # nor is a clinician's write of one checked against this server's Patient/p1's Consent
    ext = observation("p1") | {"subject": {"reference": f"{OTHER}/Patient/p1"}}
    written = client.post("/fhir/Observation", json=ext, headers=DOCTOR)
    assert written.status_code == 403
    assert "Consent" not in written.text


def test_a_consent_naming_another_servers_party_or_patient_grants_nothing_here(
    client: TestClient,
) -> None:
    put(client, patient(id="p1"))
    put(client, patient(id="p2"))
    put(client, {"resourceType": "Practitioner", "id": "dr-park"})
    put(client, observation("p1") | {"id": "o1"})
    put(client, observation("p2") | {"id": "o2"})
    actor = practitioner_actor(f"{OTHER}/Practitioner/dr-park")
    theirs = consent("p1", actor)
    foreign = consent("p2", practitioner_actor("Practitioner/dr-park"))
    foreign["patient"] = {"reference": f"{OTHER}/Patient/p2"}
    for resource in (theirs, foreign):
        response = client.post("/fhir/Consent", json=resource, headers=ADMIN)
        assert response.status_code == 201, response.text
    for oid in ("o1", "o2"):
        assert client.get(f"/fhir/Observation/{oid}", headers=DOCTOR).status_code == 403
    found = client.get("/fhir/Observation?code=8867-4", headers=DOCTOR).json()
    assert entries(found) == []
