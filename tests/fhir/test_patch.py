"""FHIR patch with a JSON Patch (application/json-patch+json) or a JSON Merge Patch
(application/merge-patch+json, or a partial resource as application/json as fhirpy sends it),
on both stores: a new version from the current one, never a lost update, and clear errors for
a patch that does not apply."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN, as_, create, patient

PATCH = {"X-Dalgu-Role": "admin", "Content-Type": "application/json-patch+json"}
MERGE = {"X-Dalgu-Role": "admin", "Content-Type": "application/merge-patch+json"}
PLAIN = {"X-Dalgu-Role": "admin", "Content-Type": "application/json"}


def _patch(client: TestClient, path: str, operations: Any, headers: dict[str, str] = PATCH) -> Any:
    return client.patch(path, content=orjson.dumps(operations), headers=headers)


def test_a_patch_makes_a_new_version_from_the_current_one(client: TestClient) -> None:
    pid = create(client, patient(active=False))
    response = _patch(
        client,
        f"/fhir/Patient/{pid}",
        [
            {"op": "test", "path": "/name/0/family", "value": "Kim"},
            {"op": "replace", "path": "/name/0/family", "value": "Lee"},
            {"op": "add", "path": "/active", "value": True},
            {"op": "add", "path": "/telecom", "value": [{"system": "phone", "value": "053"}]},
        ],
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == 'W/"2"'
    body = response.json()
    assert body["name"][0]["family"] == "Lee" and body["active"] is True
    assert body["name"][0]["given"] == ["Minji"]  # what the patch did not name is kept
    assert body["telecom"] == [{"system": "phone", "value": "053"}]
    read = client.get(f"/fhir/Patient/{pid}", headers=ADMIN).json()
    assert read["name"][0]["family"] == "Lee" and read["meta"]["versionId"] == "2"
    first = client.get(f"/fhir/Patient/{pid}/_history/1", headers=ADMIN).json()
    assert first["name"][0]["family"] == "Kim"
    found = client.get("/fhir/Patient?family=Lee", headers=ADMIN).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [pid]  # indexed anew
    events = client.get(f"/fhir/AuditEvent?patient={pid}&_count=100", headers=ADMIN).json()
    kinds = [e["resource"]["subtype"][0]["code"] for e in events.get("entry", [])]
    assert "patch" in kinds  # audited as a patch


def test_a_failed_test_or_a_missing_path_changes_nothing(client: TestClient) -> None:
    pid = create(client, patient())
    failed = _patch(
        client,
        f"/fhir/Patient/{pid}",
        [
            {"op": "test", "path": "/name/0/family", "value": "Park"},
            {"op": "replace", "path": "/gender", "value": "male"},
        ],
    )
    assert failed.status_code == 422
    assert failed.json()["resourceType"] == "OperationOutcome"
    missing = _patch(client, f"/fhir/Patient/{pid}", [{"op": "remove", "path": "/deceased"}])
    assert missing.status_code == 422
    read = client.get(f"/fhir/Patient/{pid}", headers=ADMIN)
    assert read.json()["gender"] == "female" and read.headers["etag"] == 'W/"1"'


def test_a_stale_if_match_is_412(client: TestClient) -> None:
    pid = create(client, patient())
    _patch(client, f"/fhir/Patient/{pid}", [{"op": "replace", "path": "/gender", "value": "other"}])
    stale = _patch(
        client,
        f"/fhir/Patient/{pid}",
        [{"op": "replace", "path": "/gender", "value": "male"}],
        {**PATCH, "If-Match": 'W/"1"'},
    )
    assert stale.status_code == 412
    assert client.get(f"/fhir/Patient/{pid}", headers=ADMIN).json()["gender"] == "other"


def test_what_is_not_a_valid_patch_is_refused(client: TestClient) -> None:
    pid = create(client, patient())
    path = f"/fhir/Patient/{pid}"
    assert _patch(client, path, {"gender": "male"}).status_code == 400  # a merge patch
    assert _patch(client, path, [{"op": "jump", "path": "/gender"}]).status_code == 400
    assert _patch(client, path, []).status_code == 400
    # the result must still be a valid Patient of this id
    bad = _patch(client, path, [{"op": "replace", "path": "/gender", "value": 7}])
    assert bad.status_code in (400, 422)
    moved = _patch(client, path, [{"op": "replace", "path": "/id", "value": "other"}])
    assert moved.status_code == 400
    plain = client.patch(
        path, json=[{"op": "replace", "path": "/gender", "value": "male"}], headers=ADMIN
    )
    assert plain.status_code == 415  # application/fhir+json is not a JSON Patch
    assert client.get(path, headers=ADMIN).json()["gender"] == "female"
    assert (
        _patch(client, "/fhir/Patient/nobody", [{"op": "remove", "path": "/gender"}]).status_code
        == 404
    )


def test_a_patch_needs_the_consent_a_read_needs(client: TestClient) -> None:
    pid = create(client, patient())
    doctor = {**as_("clinician", "Practitioner/dr-park"), "Content-Type": PATCH["Content-Type"]}
    refused = _patch(
        client,
        f"/fhir/Patient/{pid}",
        [{"op": "replace", "path": "/gender", "value": "male"}],
        doctor,
    )
    assert refused.status_code == 403
    assert client.get(f"/fhir/Patient/{pid}", headers=ADMIN).json()["gender"] == "female"


def test_the_capability_statement_names_patch(client: TestClient) -> None:
    statement = client.get("/fhir/metadata").json()
    assert statement["patchFormat"] == [
        "application/json-patch+json",
        "application/merge-patch+json",
    ]
    patient_type = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    assert {"code": "patch"} in patient_type["interaction"]


def test_a_merge_patch_sets_replaces_and_removes_members(client: TestClient) -> None:
    pid = create(client, patient(active=True))
    path = f"/fhir/Patient/{pid}"
    response = _patch(
        client,
        path,
        {"gender": "other", "active": None, "name": [{"family": "Lee"}], "id": pid},
        MERGE,
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == 'W/"2"'
    read = client.get(path, headers=ADMIN).json()
    assert read["gender"] == "other"
    assert "active" not in read  # null removes the member
    assert read["name"] == [{"family": "Lee"}]  # an array is replaced whole (RFC 7386)
    assert read["birthDate"] == patient()["birthDate"]  # what the patch did not name is kept
    found = client.get("/fhir/Patient?family=Lee", headers=ADMIN).json()
    assert [e["resource"]["id"] for e in found.get("entry", [])] == [pid]


def test_plain_json_is_a_merge_patch_when_an_object_and_a_json_patch_when_an_array(
    client: TestClient,
) -> None:
    pid = create(client, patient())
    path = f"/fhir/Patient/{pid}"
    assert _patch(client, path, {"gender": "male"}, PLAIN).status_code == 200
    array = [{"op": "replace", "path": "/gender", "value": "unknown"}]
    assert _patch(client, path, array, PLAIN).status_code == 200
    assert client.get(path, headers=ADMIN).json()["gender"] == "unknown"


def test_what_is_not_a_valid_merge_patch_is_refused(client: TestClient) -> None:
    pid = create(client, patient())
    path = f"/fhir/Patient/{pid}"
    assert _patch(client, path, {"id": "other"}, MERGE).status_code == 400
    assert _patch(client, path, {"resourceType": "Observation"}, MERGE).status_code == 400
    assert _patch(client, path, [1, 2], MERGE).status_code == 400
    assert _patch(client, path, {"gender": 7}, MERGE).status_code in (400, 422)
    fhirpath = {
        "resourceType": "Parameters",
        "parameter": [{"name": "operation", "part": [{"name": "type", "valueCode": "delete"}]}],
    }
    assert _patch(client, path, fhirpath, PLAIN).status_code == 415  # FHIRPath Patch
    read = client.get(path, headers=ADMIN)
    assert read.json()["gender"] == "female" and read.headers["etag"] == 'W/"1"'


def test_a_failed_test_says_what_it_found_in_json(client: TestClient) -> None:
    pid = create(client, patient())
    operations = [
        {"op": "add", "path": "/active", "value": True},
        {"op": "test", "path": "/gender", "value": "male"},
    ]
    response = client.patch(f"/fhir/Patient/{pid}", content=orjson.dumps(operations), headers=PATCH)
    assert response.status_code == 422
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert diagnostics.endswith('(operation 1) failed: /gender is "female", not "male"')
    assert "class" not in diagnostics
