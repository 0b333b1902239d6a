"""`_summary` and `_elements` on reads and searches (R4 search.html 3.1.1.5.9, 3.1.1.5.10),
on both stores."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, create, observation, patient

SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
    "display": "subsetted",
}
NARRATIVE = {
    "status": "generated",
    "div": '<div xmlns="http://www.w3.org/1999/xhtml">Kim Minji</div>',
}


def full_patient() -> dict[str, Any]:
    return patient(
        text=NARRATIVE,
        active=True,
        contact=[{"name": {"family": "Kim"}}],
        maritalStatus={"text": "married"},
    )


def read(client: TestClient, url: str) -> dict[str, Any]:
    response = client.get(url, headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_summary_false_is_the_whole_resource(client: TestClient) -> None:
    pid = create(client, full_patient())
    whole = read(client, f"/fhir/Patient/{pid}")
    assert read(client, f"/fhir/Patient/{pid}?_summary=false") == whole
    found = read(client, f"/fhir/Patient?_id={pid}&_summary=false")
    assert found["entry"][0]["resource"] == whole


def test_summary_true_keeps_the_summary_elements_and_tags_the_subset(client: TestClient) -> None:
    pid = create(client, full_patient())
    summary = read(client, f"/fhir/Patient/{pid}?_summary=true")
    assert {"id", "meta", "name", "gender", "birthDate", "active"} <= set(summary)
    assert not {"text", "contact", "maritalStatus"} & set(summary)
    assert SUBSETTED in summary["meta"]["tag"]
    assert summary["meta"]["versionId"] == "1"


def test_summary_true_subsets_backbone_elements_too(client: TestClient) -> None:
    kim = create(client, patient())
    panel = observation(kim) | {
        "component": [
            {
                "code": {"text": "systolic"},
                "valueQuantity": {"value": 120},
                "referenceRange": [{"text": "below 140"}],
            }
        ]
    }
    oid = create(client, panel)
    summary = read(client, f"/fhir/Observation/{oid}?_summary=true")
    assert summary["status"] == "final" and summary["valueQuantity"]["value"] == 72
    assert summary["component"] == [{"code": {"text": "systolic"}, "valueQuantity": {"value": 120}}]


def test_summary_text_and_data(client: TestClient) -> None:
    pid = create(client, full_patient())
    text = read(client, f"/fhir/Patient/{pid}?_summary=text")
    assert set(text) == {"resourceType", "id", "meta", "text"}
    data = read(client, f"/fhir/Patient/{pid}?_summary=data")
    assert "text" not in data and data["contact"] == [{"name": {"family": "Kim"}}]
    assert SUBSETTED in text["meta"]["tag"] and SUBSETTED in data["meta"]["tag"]


def test_elements_on_a_search_keeps_those_with_the_mandatory_ones(client: TestClient) -> None:
    kim = create(client, patient())
    create(client, observation(kim))
    bundle = read(client, f"/fhir/Observation?patient={kim}&_elements=subject,value")
    (resource,) = [e["resource"] for e in bundle["entry"]]
    # status and code are mandatory (1..1): a server SHOULD return them whether asked or not
    assert set(resource) == {
        "resourceType",
        "id",
        "meta",
        "subject",
        "valueQuantity",
        "status",
        "code",
    }
    assert SUBSETTED in resource["meta"]["tag"]
    assert "_elements=subject%2Cvalue" in bundle["link"][0]["url"]


def test_summary_in_a_search_subsets_the_included_resources_too(client: TestClient) -> None:
    kim = create(client, full_patient())
    create(client, observation(kim))
    url = f"/fhir/Observation?patient={kim}&_include=Observation:patient&_summary=true"
    included = [
        e["resource"] for e in read(client, url)["entry"] if e["search"]["mode"] == "include"
    ]
    assert [r["resourceType"] for r in included] == ["Patient"]
    assert "contact" not in included[0] and SUBSETTED in included[0]["meta"]["tag"]


@pytest.mark.parametrize(
    "query",
    ["_summary=maybe", "_elements=shoeSize", "_summary=true&_elements=name", "_summary=count"],
)
def test_an_unknown_summary_or_element_is_400_on_a_read(client: TestClient, query: str) -> None:
    pid = create(client, patient())
    response = client.get(f"/fhir/Patient/{pid}?{query}", headers=ADMIN)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"
