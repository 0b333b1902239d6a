"""Register, retrieve, update and delete Context Source Registrations (clauses 5.9, 5.10.1,
6.8, 6.9) through the HTTP API, on every store backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.registrations.common import DEFAULT, EX, R, hosted_link, problem_type, registration

ID = "urn:ngsi-ld:ContextSourceRegistration:1"


def test_create_is_201_with_location_and_retrieve_returns_it(client: TestClient) -> None:
    created = client.post(R, json=registration())
    assert created.status_code == 201
    assert created.headers["location"] == f"{R}/{ID}"
    assert created.content == b""
    got = client.get(f"{R}/{ID}").json()
    assert got["id"] == ID and got["type"] == "ContextSourceRegistration"
    assert got["endpoint"] == "http://my.csource.org:1026"
    assert got["information"] == registration()["information"]
    assert got["mode"] == "inclusive" and got["operations"] == ["federationOps"]
    assert "createdAt" not in got


def test_create_without_id_generates_a_urn(client: TestClient) -> None:
    body = registration()
    del body["id"]
    created = client.post(R, json=body)
    assert created.status_code == 201
    reg_id = created.headers["location"].removeprefix(R + "/")
    assert reg_id.startswith("urn:ngsi-ld:ContextSourceRegistration:")
    assert client.get(f"{R}/{reg_id}").json()["id"] == reg_id


def test_create_twice_is_409_already_exists(client: TestClient) -> None:
    assert client.post(R, json=registration()).status_code == 201
    again = client.post(R, json=registration())
    assert again.status_code == 409 and problem_type(again) == "AlreadyExists"


def test_registrations_are_per_tenant(client: TestClient) -> None:
    tenant = {"NGSILD-Tenant": "daegu"}
    assert client.post(R, json=registration(), headers=tenant).status_code == 201
    assert client.get(f"{R}/{ID}", headers=tenant).status_code == 200
    assert client.get(f"{R}/{ID}").status_code == 404
    assert client.post(R, json=registration()).status_code == 201  # same id, other tenant


def test_names_are_stored_expanded_and_compacted_with_the_request_context(
    client: TestClient,
) -> None:
    link = hosted_link(client)
    assert client.post(R, json=registration(), headers=link).status_code == 201
    with_ctx = client.get(f"{R}/{ID}", headers=link).json()
    assert with_ctx["information"][0]["entities"][0]["type"] == "Vehicle"
    assert with_ctx["information"][0]["propertyNames"] == ["brandName", "speed"]
    plain = client.get(f"{R}/{ID}").json()
    assert plain["information"][0]["entities"][0]["type"] == EX + "Vehicle"
    assert plain["information"][0]["propertyNames"] == ["brandName", EX + "speed"]


def test_ld_json_body_context_is_used(client: TestClient) -> None:
    body = {**registration(), "@context": {"Vehicle": EX + "Vehicle"}}
    headers = {"Content-Type": "application/ld+json"}
    assert client.post(R, json=body, headers=headers).status_code == 201
    got = client.get(f"{R}/{ID}").json()
    assert got["information"][0]["entities"][0]["type"] == EX + "Vehicle"


def test_json_body_with_context_member_is_400(client: TestClient) -> None:
    body = {**registration(), "@context": {"Vehicle": EX + "Vehicle"}}
    response = client.post(R, json=body)
    assert response.status_code == 400 and problem_type(response) == "BadRequestData"


def test_full_data_model_round_trips(client: TestClient) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    body = registration(
        registrationName="parking",
        description="city parking",
        tenant="city",
        contextSourceAlias="csource-1",
        contextSourceInfo=[
            {"key": "Authorization", "value": "Bearer x"},
            {"key": "accept", "value": "application/ld+json; charset=utf-8"},
            {"key": "ngsildConformance", "value": "1.8"},
            {"key": "jsonldContext", "value": "http://127.0.0.1:9/ctx.jsonld"},
        ],
        datasetId=["urn:ngsi-ld:Dataset:a", "@none"],
        expiresAt=later,
        location={"type": "Point", "coordinates": [128.6, 35.87]},
        observationSpace={"type": "Point", "coordinates": [128.6, 35.87]},
        operationSpace={"type": "Point", "coordinates": [128.6, 35.87]},
        management={"localOnly": True, "cacheDuration": "PT1M", "timeout": 5, "cooldown": 1},
        mode="auxiliary",
        operations=["retrieveOps"],
        refreshRate="PT10S",
        scope=["/Daegu/Jung"],
        sensorKind={"type": "Property", "value": "camera"},
    )
    assert client.post(R, json=body).status_code == 201
    got = client.get(f"{R}/{ID}", params={"options": "sysAttrs"}).json()
    for key, value in body.items():
        assert got[key] == value, key
    assert got["createdAt"] == got["modifiedAt"]


def test_read_only_members_are_ignored(client: TestClient) -> None:
    body = registration(status="failed", timesSent=9, lastFailure="2020-01-01T00:00:00Z")
    assert client.post(R, json=body).status_code == 201
    got = client.get(f"{R}/{ID}").json()
    assert "timesSent" not in got and "lastFailure" not in got and "status" not in got


@pytest.mark.parametrize(
    "change",
    [
        {"type": "Registration"},
        {"id": "not a uri"},
        {"information": []},
        {"information": [{}]},
        {"information": [{"entities": []}]},
        {"information": [{"entities": [{"id": "urn:x:1"}]}]},
        {"information": [{"entities": [{"type": "T", "idPattern": "("}]}]},
        {"information": [{"propertyNames": []}]},
        {"information": [{"propertyNames": ["speed"], "colour": ["x"]}]},
        {"information": None},
        {"endpoint": "not a uri"},
        {"endpoint": None},
        {"expiresAt": "2018-11-29T14:53:15Z"},
        {"expiresAt": "tomorrow"},
        {"location": {"type": "Point", "coordinates": "here"}},
        {"observationInterval": {"endAt": "2020-01-01T00:00:00Z"}},
        {
            "managementInterval": {
                "startAt": "2021-01-01T00:00:00Z",
                "endAt": "2020-01-01T00:00:00Z",
            }
        },
        {"mode": "sometimes"},
        {"operations": ["teleport"]},
        {"operations": []},
        {"mode": "auxiliary", "operations": ["updateOps"]},
        {"mode": "auxiliary"},  # the default operations (federationOps) are too many
        {"refreshRate": "every minute"},
        {"scope": "not a scope!"},
        {"contextSourceInfo": [{"key": "k"}]},
        # clause 4.3.6.6's restrictions (clause 5.9.2.4: BadRequestData)
        {"contextSourceInfo": [{"key": "accept", "value": "text/plain"}]},
        {"contextSourceInfo": [{"key": "contentType", "value": "text/xml"}]},
        {"contextSourceInfo": [{"key": "ngsildConformance", "value": "abc"}]},
        {"contextSourceInfo": [{"key": "ngsildConformance", "value": "v1"}]},
        {"contextSourceInfo": [{"key": "jsonldContext", "value": "not a url"}]},
        {"datasetId": ["not a uri"]},
        {"management": {"timeout": -1}},
        {"registrationName": ""},
    ],
)
def test_invalid_registration_is_400_bad_request_data(client: TestClient, change: dict) -> None:
    body = {k: v for k, v in {**registration(), **change}.items() if k not in change or v != "_"}
    if "endpoint" in change and change["endpoint"] is None:
        del body["endpoint"]
    response = client.post(R, json=body)
    assert response.status_code == 400, change
    assert problem_type(response) == "BadRequestData"
    assert response.json()["title"]


def test_missing_information_is_400(client: TestClient) -> None:
    body = registration()
    del body["information"]
    assert client.post(R, json=body).status_code == 400


def test_invalid_json_is_400_invalid_request(client: TestClient) -> None:
    response = client.post(R, content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and problem_type(response) == "InvalidRequest"


def test_retrieve_with_invalid_id_is_400_and_unknown_is_404(client: TestClient) -> None:
    bad = client.get(f"{R}/invalidURI")
    assert bad.status_code == 400 and problem_type(bad) == "BadRequestData"
    missing = client.get(f"{R}/urn:ngsi-ld:ContextSourceRegistration:none")
    assert missing.status_code == 404 and problem_type(missing) == "ResourceNotFound"


def test_update_merges_the_fragment(client: TestClient) -> None:
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert client.post(R, json=registration(expiresAt=later, description="a")).status_code == 201
    fragment = {"endpoint": "http://my.new.csource.org:1026", "expiresAt": None, "speed": 1}
    updated = client.patch(f"{R}/{ID}", json=fragment)
    assert updated.status_code == 204 and updated.content == b""
    got = client.get(f"{R}/{ID}", params={"options": "sysAttrs"}).json()
    assert got["endpoint"] == "http://my.new.csource.org:1026"
    assert "expiresAt" not in got
    assert got["description"] == "a"  # untouched members stay
    assert got["speed"] == 1  # a new context source property
    assert got["information"] == registration()["information"]
    assert got["modifiedAt"] > got["createdAt"]


def test_update_replaces_information_with_the_fragments(client: TestClient) -> None:
    assert client.post(R, json=registration()).status_code == 201
    info = [{"entities": [{"type": "NewType"}]}]
    assert client.patch(f"{R}/{ID}", json={"information": info}).status_code == 204
    got = client.get(f"{R}/{ID}").json()
    assert got["information"] == info


@pytest.mark.parametrize(
    ("fragment", "status", "kind"),
    [
        ({"type": "building"}, 400, "BadRequestData"),
        ({"information": None}, 400, "BadRequestData"),
        ({"endpoint": None}, 400, "BadRequestData"),
        ({"id": "urn:ngsi-ld:ContextSourceRegistration:2"}, 400, "BadRequestData"),
        ({"mode": "nope"}, 400, "BadRequestData"),
        (
            {"contextSourceInfo": [{"key": "contentType", "value": "text/xml"}]},
            400,
            "BadRequestData",
        ),
    ],
)
def test_invalid_update_is_rejected_and_changes_nothing(
    client: TestClient, fragment: dict, status: int, kind: str
) -> None:
    assert client.post(R, json=registration()).status_code == 201
    response = client.patch(f"{R}/{ID}", json=fragment)
    assert response.status_code == status and problem_type(response) == kind
    assert client.get(f"{R}/{ID}").json()["information"] == registration()["information"]


def test_update_of_unknown_is_404_and_invalid_id_400(client: TestClient) -> None:
    missing = client.patch(
        f"{R}/urn:ngsi-ld:ContextSourceRegistration:9", json={"mode": "inclusive"}
    )
    assert missing.status_code == 404 and problem_type(missing) == "ResourceNotFound"
    bad = client.patch(f"{R}/invalidURI", json={"mode": "inclusive"})
    assert bad.status_code == 400 and problem_type(bad) == "BadRequestData"


def test_update_with_invalid_json_is_400_invalid_request(client: TestClient) -> None:
    assert client.post(R, json=registration()).status_code == 201
    response = client.patch(
        f"{R}/{ID}", content=b"[1,", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and problem_type(response) == "InvalidRequest"


def test_delete_removes_it(client: TestClient) -> None:
    assert client.post(R, json=registration()).status_code == 201
    deleted = client.delete(f"{R}/{ID}")
    assert deleted.status_code == 204
    assert client.get(f"{R}/{ID}").status_code == 404
    again = client.delete(f"{R}/{ID}")
    assert again.status_code == 404 and problem_type(again) == "ResourceNotFound"
    assert client.delete(f"{R}/invalidURI").status_code == 400


def test_collection_without_id_is_405_for_patch_and_delete(client: TestClient) -> None:
    assert client.patch(R, json={"mode": "inclusive"}).status_code == 405
    assert client.delete(R).status_code == 405


def test_exclusive_registration_conflicts_with_another_claim(client: TestClient) -> None:
    exclusive = registration(1, mode="exclusive")
    assert client.post(R, json=exclusive).status_code == 201
    second = client.post(R, json=registration(2, mode="exclusive"))
    assert second.status_code == 409 and problem_type(second) == "Conflict"
    other_attr = registration(3, mode="exclusive")
    other_attr["information"] = [
        {
            "entities": [{"id": "urn:ngsi-ld:Vehicle:A456", "type": "Vehicle"}],
            "propertyNames": ["fuel"],
        }
    ]
    assert client.post(R, json=other_attr).status_code == 201  # other attributes: no claim
    assert client.post(R, json=registration(4)).status_code == 201  # inclusive: no claim


def test_proxied_registrations_do_not_overlap(client: TestClient) -> None:
    """Clause 4.3.6.3: no further exclusive or redirect registration for an entity id and
    attribute an exclusive one claims, and none overlapping another proxied one; a redirect
    after an exclusive, and an exclusive inside a type-wide redirect, were accepted."""

    def lamp(n: int, mode: str, entity: dict[str, str], endpoint: int) -> dict[str, Any]:
        return {
            "id": f"urn:ngsi-ld:ContextSourceRegistration:{n}",
            "type": "ContextSourceRegistration",
            "mode": mode,
            "information": [{"entities": [{"type": "Lamp", **entity}], "propertyNames": ["power"]}],
            "endpoint": f"http://127.0.0.1:{endpoint}",
        }

    l1, l2 = {"id": "urn:ngsi-ld:Lamp:L1"}, {"id": "urn:ngsi-ld:Lamp:L2"}
    assert client.post(R, json=lamp(1, "exclusive", l1, 22050)).status_code == 201
    for body in (lamp(2, "redirect", l1, 22052), lamp(3, "redirect", {}, 22052)):
        refused = client.post(R, json=body)
        assert refused.status_code == 409, refused.text
        assert problem_type(refused) == "Conflict"
    assert (
        client.post(R, json=lamp(4, "redirect", {"idPattern": "urn:other:.*"}, 22052)).status_code
        == 201
    )
    for n in (1, 4):
        assert client.delete(f"{R}/urn:ngsi-ld:ContextSourceRegistration:{n}").status_code == 204
    assert client.post(R, json=lamp(5, "redirect", {}, 22052)).status_code == 201
    inside = client.post(R, json=lamp(6, "exclusive", l2, 22054))
    assert inside.status_code == 409 and problem_type(inside) == "Conflict"
    # an update into an overlap is refused too (clause 5.9.3.4)
    assert client.post(R, json=lamp(7, "inclusive", l2, 22054)).status_code == 201
    moved = client.patch(f"{R}/urn:ngsi-ld:ContextSourceRegistration:7", json={"mode": "exclusive"})
    assert moved.status_code == 409
    other = lamp(8, "exclusive", l2, 22054)
    other["information"][0]["propertyNames"] = ["colour"]  # another attribute: no overlap
    assert client.post(R, json=other).status_code == 201
    # redirect registrations may overlap: operations go to all of them (clause 4.3.6.3; the
    # ETSI suite's D010_01_red registers two for one entity)
    l3 = {"id": "urn:ngsi-ld:Lamp:L3"}
    assert client.post(R, json=lamp(9, "redirect", l3, 22056)).status_code == 201
    assert client.post(R, json=lamp(10, "redirect", l3, 22058)).status_code == 201


def test_exclusive_registration_conflicts_with_a_local_entity_holding_its_attributes(
    client: TestClient,
) -> None:
    vehicle = {
        "id": "urn:ngsi-ld:Vehicle:A456",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": 3},
    }
    assert client.post("/ngsi-ld/v1/entities", json=vehicle).status_code == 201
    response = client.post(R, json=registration(mode="exclusive"))
    assert response.status_code == 409 and problem_type(response) == "Conflict"


def test_redirect_registration_conflicts_with_a_matching_local_entity(client: TestClient) -> None:
    parking = {"id": "urn:ngsi-ld:OffStreetParking:downtown", "type": "OffStreetParking"}
    assert client.post("/ngsi-ld/v1/entities", json=parking).status_code == 201
    response = client.post(R, json=registration(mode="redirect", operations=["redirectionOps"]))
    assert response.status_code == 409 and problem_type(response) == "Conflict"
    fine = registration(2, mode="redirect")
    fine["information"] = [{"entities": [{"type": "Tram"}]}]
    assert client.post(R, json=fine).status_code == 201


def test_names_made_without_context_stay_in_the_default_vocabulary(client: TestClient) -> None:
    assert client.post(R, json=registration()).status_code == 201
    link = hosted_link(client)
    got = client.get(f"{R}/{ID}", headers=link).json()
    # the later context maps Vehicle elsewhere: the stored name is the default-context IRI,
    # compacted with the core context's `ngsi-ld:` prefix
    assert got["information"][0]["entities"][0]["type"] == "ngsi-ld:default-context/Vehicle"
    plain = client.get(f"{R}/{ID}").json()
    assert plain["information"][0]["entities"][0]["type"] == "Vehicle"
    assert DEFAULT.startswith("https://uri.etsi.org/ngsi-ld/")


def test_entity_info_type_may_be_an_array_of_types(client: TestClient) -> None:
    body = registration()
    body["information"] = [{"entities": [{"type": ["Vehicle", "Tram"]}]}]
    assert client.post(R, json=body).status_code == 201
    got = client.get(f"{R}/{ID}").json()
    assert got["information"][0]["entities"][0]["type"] == ["Vehicle", "Tram"]
    found = client.get(R, params={"type": "Tram"}).json()
    assert [r["id"] for r in found] == [ID]
    bad = registration(2)
    bad["information"] = [{"entities": [{"type": []}]}]
    assert client.post(R, json=bad).status_code == 400
