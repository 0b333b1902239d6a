"""What a Bundle's fullUrls and `urn:uuid:` references may be, on both stores: unique
fullUrls (bdl-7), and no `urn:uuid:` reference stored that names no entry."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, observation, patient

URN = "urn:uuid:11111111-1111-1111-1111-111111111111"
NOWHERE = "urn:uuid:22222222-2222-2222-2222-222222222222"


def _stored(client: TestClient, type_name: str) -> int:
    total: int = client.get(f"/fhir/{type_name}", headers=ADMIN).json()["total"]
    return total


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_two_entries_with_one_full_url_are_a_400(client: TestClient, kind: str) -> None:
    entry: dict[str, Any] = {
        "fullUrl": URN,
        "resource": patient(),
        "request": {"method": "POST", "url": "Patient"},
    }
    bundle = {"resourceType": "Bundle", "type": kind, "entry": [entry, dict(entry)]}
    response = client.post("/fhir", json=bundle, headers=ADMIN)
    assert response.status_code == 400, response.text
    assert "bdl-7" in response.json()["issue"][0]["diagnostics"]
    assert _stored(client, "Patient") == 0


def test_a_urn_uuid_reference_to_no_entry_fails_the_transaction(client: TestClient) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": URN,
                "resource": patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": observation("x") | {"subject": {"reference": NOWHERE}},
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }
    response = client.post("/fhir", json=bundle, headers=ADMIN)
    assert response.status_code == 400, response.text
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert diagnostics.startswith(f"entry 1: Observation.subject: {NOWHERE}")
    assert _stored(client, "Patient") == 0


def test_a_create_with_a_urn_uuid_reference_is_a_400(client: TestClient) -> None:
    body = observation("x") | {"subject": {"reference": NOWHERE}}
    response = client.post("/fhir/Observation", json=body, headers=ADMIN)
    assert response.status_code == 400, response.text
    assert f"Observation.subject: {NOWHERE}" in response.json()["issue"][0]["diagnostics"]
    assert _stored(client, "Observation") == 0


def _transaction(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def test_relative_references_resolve_against_a_restful_full_url(client: TestClient) -> None:
    """A bundle exported from another server (absolute fullUrls, relative references) is
    imported with its references to its entries rewritten (bundle.html "Resolving references
    in Bundles"; fhir report #9)."""
    ehr = "http://ehr.example.org/fhir"
    bundle = _transaction(
        {
            "fullUrl": f"{ehr}/Patient/456",
            "resource": patient() | {"id": "456"},
            "request": {"method": "POST", "url": "Patient"},
        },
        {
            "fullUrl": f"{ehr}/Observation/789",
            "resource": observation("456"),
            "request": {"method": "POST", "url": "Observation"},
        },
    )
    response = client.post("/fhir", json=bundle, headers=ADMIN)
    assert response.status_code == 200, response.text
    created, observed = (e["resource"] for e in response.json()["entry"])
    assert created["id"] != "456"
    assert observed["subject"] == {"reference": f"Patient/{created['id']}"}


def test_relative_references_resolve_against_this_servers_base(client: TestClient) -> None:
    """An entry whose fullUrl is not RESTful (a urn:uuid) names this server's resources with
    relative references: one that is another entry's fullUrl under this base is that entry."""
    base = str(client.base_url) + "/fhir"
    bundle = _transaction(
        {
            "fullUrl": f"{base}/Patient/newpost",
            "resource": patient() | {"id": "newpost"},
            "request": {"method": "POST", "url": "Patient"},
        },
        {
            "fullUrl": URN,
            "resource": observation("newpost"),
            "request": {"method": "POST", "url": "Observation"},
        },
    )
    response = client.post("/fhir", json=bundle, headers=ADMIN)
    assert response.status_code == 200, response.text
    created, observed = (e["resource"] for e in response.json()["entry"])
    assert observed["subject"] == {"reference": f"Patient/{created['id']}"}


def test_a_relative_reference_naming_no_entry_names_this_servers_resource(
    client: TestClient,
) -> None:
    response = client.put("/fhir/Patient/here", json=patient() | {"id": "here"}, headers=ADMIN)
    assert response.status_code == 201
    bundle = _transaction(
        {
            "fullUrl": "http://ehr.example.org/fhir/Patient/here2",
            "resource": patient(),
            "request": {"method": "POST", "url": "Patient"},
        },
        {
            "fullUrl": "http://ehr.example.org/fhir/Observation/1",
            "resource": observation("here"),
            "request": {"method": "POST", "url": "Observation"},
        },
    )
    response = client.post("/fhir", json=bundle, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["entry"][1]["resource"]["subject"] == {"reference": "Patient/here"}


def test_a_transaction_replaces_full_urls_in_uri_elements_and_narrative_links(
    client: TestClient,
) -> None:
    """http.html, transaction processing rules: "Servers SHALL replace all matching links
    in the bundle, whether they are found in ... elements of type uri, url, oid, uuid, and
    <a href="" & <img src="" in the narrative. Elements of type canonical are not replaced."
    (fhir report #3)"""
    div = (
        '<div xmlns="http://www.w3.org/1999/xhtml">Heart rate of '
        f'<a href="{URN}">the patient</a> <img src=\'{URN}\' alt="x"/> '
        f'<a href="{URN}x">not it</a></div>'
    )
    source = "http://example.org/fhir/StructureDefinition/source"
    extensions = [
        {"url": source, "valueUri": URN},
        {"url": source, "valueCanonical": URN},
        {"url": source, "valueString": URN},
    ]
    body = observation("x") | {
        "subject": {"reference": URN},
        "text": {"status": "generated", "div": div},
        "extension": extensions,
        "identifier": [{"system": URN, "value": URN}],
    }
    bundle = _transaction(
        {"fullUrl": URN, "resource": patient(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": body, "request": {"method": "POST", "url": "Observation"}},
    )
    response = client.post("/fhir", json=bundle, headers=ADMIN)
    assert response.status_code == 200, response.text
    created, observed = (e["resource"] for e in response.json()["entry"])
    new = f"Patient/{created['id']}"
    stored = client.get(f"/fhir/Observation/{observed['id']}", headers=ADMIN).json()
    assert stored["subject"] == {"reference": new}
    assert [
        e.get("valueUri") or e.get("valueCanonical") or e["valueString"]
        for e in stored["extension"]
    ] == [new, URN, URN]  # a canonical and a string are not links to replace
    assert stored["identifier"] == [{"system": new, "value": URN}]
    assert f'<a href="{new}">the patient</a>' in stored["text"]["div"]
    assert f"<img src='{new}'" in stored["text"]["div"]
    assert f'<a href="{URN}x">' in stored["text"]["div"]
