"""Content the R4 definitions forbid is refused with a 422 naming the element, on both
stores: JSON nulls, a reference to a type its element does not allow (or a Reference.type
other than its reference's), a uri with
whitespace, a contained resource nothing refers to (dom-3)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, create, observation, patient


def _refused(client: TestClient, body: dict[str, Any]) -> str:
    response = client.post(f"/fhir/{body['resourceType']}", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    diagnostics: str = response.json()["issue"][0]["diagnostics"]
    found = client.get(f"/fhir/{body['resourceType']}", headers=ADMIN).json()
    assert found.get("total") == 0
    return diagnostics


@pytest.mark.parametrize(
    ("body", "element"),
    [
        (
            observation("x") | {"valueQuantity": {"value": None, "unit": "/min"}},
            "valueQuantity.value",
        ),
        (patient() | {"name": [{"family": None}]}, "name[0].family"),
        (patient() | {"name": [{"given": [None]}]}, "name[0].given[0]"),
    ],
)
def test_a_json_null_is_a_422_naming_its_element(
    client: TestClient, body: dict[str, Any], element: str
) -> None:
    body = {k: v for k, v in body.items() if k != "subject"}
    assert _refused(client, body).startswith(f"{body['resourceType']}.{element}: null")


def test_a_null_that_holds_the_place_of_a_primitive_extension_is_kept(client: TestClient) -> None:
    body = patient() | {"name": [{"given": ["A", None], "_given": [None, {"id": "g2"}]}]}
    assert client.post("/fhir/Patient", json=body, headers=ADMIN).status_code == 201


def test_a_reference_to_a_type_the_element_does_not_allow_is_a_422(client: TestClient) -> None:
    doctor = create(client, {"resourceType": "Practitioner", "name": [{"family": "Park"}]})
    body = observation("x") | {"subject": {"reference": f"Practitioner/{doctor}"}}
    diagnostics = _refused(client, body)
    assert diagnostics == (
        f"Observation.subject: Practitioner/{doctor} is a Practitioner; the element refers to "
        "Patient, Group, Device, Location"
    )


def test_a_reference_type_is_consistent_with_its_reference_and_allowed_by_its_element(
    client: TestClient,
) -> None:
    """R4 Reference.type: "If both Reference.type and Reference.reference are populated and
    Reference.reference is a FHIR URL, both SHALL be consistent" (fhir report #4)."""
    kim = create(client, patient())
    for declared in ("Practitioner", "Device"):
        body = observation(kim) | {"subject": {"reference": f"Patient/{kim}", "type": declared}}
        diagnostics = _refused(client, body)
        assert diagnostics.startswith(f"Observation.subject.type: {declared} is not the type of")
    by_identifier = {"identifier": {"value": "M-1"}, "type": "Practitioner"}
    diagnostics = _refused(client, observation(kim) | {"subject": by_identifier})
    assert "the element refers to Patient, Group, Device, Location" in diagnostics
    for declared in ("Patient", "http://hl7.org/fhir/StructureDefinition/Patient"):
        body = observation(kim) | {"subject": {"reference": f"Patient/{kim}", "type": declared}}
        assert client.post("/fhir/Observation", json=body, headers=ADMIN).status_code == 201


def test_a_uri_with_whitespace_is_a_422(client: TestClient) -> None:
    body = patient() | {"identifier": [{"system": "urn:bad system", "value": "x"}]}
    assert _refused(client, body).startswith('Patient.identifier[0].system: "urn:bad system"')


def test_a_contained_resource_nothing_refers_to_is_a_422(client: TestClient) -> None:
    kim = create(client, patient())
    body = observation(kim) | {"contained": [{"resourceType": "Patient", "id": "c1"}]}
    assert "dom-3" in _refused(client, body)
    body["performer"] = [{"reference": "#c1"}]
    assert client.post("/fhir/Observation", json=body, headers=ADMIN).status_code == 201
