"""Provisioning requests written for the FIWARE IoT Agents (their own tests' bodies) work."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
AGENT = {"fiware-service": "agent", "fiware-servicepath": "/gardens"}
TENANT = {"NGSILD-Tenant": "agent"}


def test_a_transport_in_lower_case_is_accepted_and_kept_upper_case(client: TestClient) -> None:
    group = {  # testCases.js 0200
        "resource": "/iot/json",
        "apikey": "k-cmd",
        "entity_type": "TestType",
        "commands": [{"name": "cmd1", "type": "command"}],
        "endpoint": "http://myendpoint.com",
        "transport": "http",
    }
    created = client.post("/iot/services", json={"services": [group]}, headers=AGENT)
    assert created.status_code == 201, created.text
    assert client.get("/iot/services", headers=AGENT).json()["services"][0]["transport"] == "HTTP"
    device = {"device_id": "d1", "apikey": "k-cmd", "transport": "mqtt"}
    created = client.post("/iot/devices", json={"devices": [device]}, headers=AGENT)
    assert created.status_code == 201, created.text
    assert client.get("/iot/devices/d1", headers=AGENT).json()["transport"] == "MQTT"
    refused = client.post(
        "/iot/devices", json={"devices": [{**device, "transport": "pigeon"}]}, headers=AGENT
    )
    assert refused.status_code == 400


def test_an_attribute_mapping_without_a_name_is_named_by_its_object_id(client: TestClient) -> None:
    group = {  # testCases.js 0550
        "resource": "/iot/json",
        "apikey": "k-noname",
        "entity_type": "TestType",
        "attributes": [
            {"object_id": "a", "name": "attr_a", "type": "Number"},
            {"object_id": "c", "type": "Number"},
        ],
    }
    created = client.post("/iot/services", json={"services": [group]}, headers=AGENT)
    assert created.status_code == 201, created.text
    sent = client.post("/iot/json?k=k-noname&i=d1", content=b'{"a": 1, "c": "2.5"}')
    assert sent.status_code == 200, sent.text
    entity = client.get(f"{E}/urn:ngsi-ld:TestType:d1?options=keyValues", headers=TENANT).json()
    assert entity["attr_a"] == 1 and entity["c"] == 2.5  # typed by its mapping
    nameless = {**group, "apikey": "k-nothing", "attributes": [{"type": "Number"}]}
    refused = client.post("/iot/services", json={"services": [nameless]}, headers=AGENT)
    assert refused.status_code == 400 and "name" in refused.json()["detail"]


def provision_lights(client: TestClient, apikey: str = "k-del") -> None:
    group = {"apikey": apikey, "resource": "/deviceTest", "entity_type": "Light"}
    created = client.post("/iot/services", json={"services": [group]}, headers=AGENT)
    assert created.status_code == 201, created.text
    devices = [{"device_id": "Light1", "apikey": apikey}, {"device_id": "Light2", "apikey": apikey}]
    created = client.post("/iot/devices", json={"devices": devices}, headers=AGENT)
    assert created.status_code == 201, created.text


def test_removing_a_group_with_device_true_removes_its_devices(client: TestClient) -> None:
    provision_lights(client)
    other = {"device_id": "Other1", "apikey": "k-other"}  # another apikey: stays
    assert client.post("/iot/devices", json={"devices": [other]}, headers=AGENT).status_code == 201
    params = {"resource": "/deviceTest", "apikey": "k-del", "device": "true"}
    assert client.delete("/iot/services", params=params, headers=AGENT).status_code == 204
    listed = client.get("/iot/devices", headers=AGENT).json()
    assert [d["device_id"] for d in listed["devices"]] == ["Other1"]
    assert client.get("/iot/devices/Light1", headers=AGENT).status_code == 404
    assert client.get("/iot/services", headers=AGENT).json()["count"] == 0
    # without device=true the devices stay, as before
    provision_lights(client, "k-keep")
    params = {"resource": "/deviceTest", "apikey": "k-keep"}
    assert client.delete("/iot/services", params=params, headers=AGENT).status_code == 204
    assert client.get("/iot/devices", headers=AGENT).json()["count"] == 3


def test_bulk_device_removal(client: TestClient) -> None:
    provision_lights(client)
    body = {
        "devices": [
            {"deviceId": "Light1", "apikey": "k-del"},
            {"deviceId": "Light2", "apikey": "k-del"},
        ]
    }
    assert client.post("/iot/op/delete", json=body, headers=AGENT).status_code == 204
    assert client.get("/iot/devices", headers=AGENT).json()["count"] == 0
    # one unknown: the others named still go, and the answer is a 404 naming it
    provision_lights(client, "k-del2")
    body = {
        "devices": [
            {"deviceId": "Light1", "apikey": "k-del2"},
            {"deviceId": "Light9", "apikey": "k-del2"},
            {"deviceId": "Light2", "apikey": "k-wrong"},
        ]
    }
    answer = client.post("/iot/op/delete", json=body, headers=AGENT)
    assert answer.status_code == 404, answer.text
    detail = answer.json()["detail"]
    assert "Light9" in detail and "Light2" in detail and "1 other device named removed" in detail
    listed = client.get("/iot/devices", headers=AGENT).json()
    assert [d["device_id"] for d in listed["devices"]] == ["Light2"]
    malformed = client.post("/iot/op/delete", json={"devices": [{"apikey": "x"}]}, headers=AGENT)
    assert malformed.status_code == 400
    assert client.get("/iot/devices", headers=AGENT).json()["count"] == 1


def test_provisioning_errors_carry_the_agents_name_and_message(client: TestClient) -> None:
    provision_lights(client)
    device = {"device_id": "Light1", "apikey": "k-del"}
    cases = [
        (
            client.post("/iot/devices", json={"devices": [device]}, headers=AGENT),
            409,
            "DUPLICATE_DEVICE_ID",
        ),
        (client.get("/iot/devices/Nope", headers=AGENT), 404, "DEVICE_NOT_FOUND"),
        (client.delete("/iot/devices/Nope", headers=AGENT), 404, "DEVICE_NOT_FOUND"),
        (
            client.post("/iot/devices", json={"devices": [{}]}, headers=AGENT),
            400,
            "MISSING_ATTRIBUTES",
        ),
        (client.post("/iot/devices", content=b"{", headers=AGENT), 400, "WRONG_SYNTAX"),
        (
            client.post("/iot/devices", json={"devices": [{"device_id": 3}]}, headers=AGENT),
            400,
            "WRONG_SYNTAX",
        ),
        (
            client.post(
                "/iot/services",
                json={"services": [{"apikey": "k-del", "resource": "/deviceTest"}]},
                headers=AGENT,
            ),
            409,
            "DUPLICATE_GROUP",
        ),
        (
            client.delete("/iot/services", params={"apikey": "nope"}, headers=AGENT),
            404,
            "DEVICE_GROUP_NOT_FOUND",
        ),
        (client.delete("/iot/services", headers=AGENT), 400, "MISSING_HEADERS"),
        (
            client.post(
                "/iot/services", json={"services": [{}]}, headers={"fiware-service": "bad service"}
            ),
            400,
            "BAD_REQUEST",
        ),
    ]
    for answer, status, name in cases:
        assert answer.status_code == status, answer.text
        body = answer.json()
        assert body["name"] == name, body
        assert body["message"] == body["detail"] and body["status"] == status  # still a problem
        assert body["type"].startswith("https://uri.etsi.org/ngsi-ld/errors/")


def test_a_fiware_service_is_one_service_in_any_case(client: TestClient) -> None:
    mixed = {"fiware-service": "Rep9Mixed", "fiware-servicepath": "/gardens"}
    lower = {"fiware-service": "rep9mixed", "fiware-servicepath": "/gardens"}
    upper = {"fiware-service": "REP9MIXED", "fiware-servicepath": "/gardens"}
    group = {"apikey": "k-mixed", "resource": "/iot/d", "entity_type": "Mixed"}
    assert (
        client.post("/iot/services", json={"services": [group]}, headers=mixed).status_code == 201
    )
    listed = client.get("/iot/services", headers=lower).json()
    assert listed["count"] == 1 and listed["services"][0]["service"] == "rep9mixed"
    params = {"apikey": "k-mixed", "resource": "/iot/d"}
    changed = client.put("/iot/services", params=params, json={"timestamp": False}, headers=upper)
    assert changed.status_code == 204
    # its devices' measures land in the lower-case tenant, where the dashboard shows them too
    assert client.post("/iot/d?k=k-mixed&i=m1", content=b"t|1").status_code == 200
    read = client.get(f"{E}/urn:ngsi-ld:Mixed:m1", headers={"NGSILD-Tenant": "rep9mixed"})
    assert read.status_code == 200 and read.json()["t"]["value"] == 1
    page = client.get("/dashboard?lang=en&tenant=rep9mixed").text
    assert "urn:ngsi-ld:Mixed:m1" in page
    assert client.get("/iot/devices/m1", headers=mixed).json()["service"] == "rep9mixed"
    assert client.delete("/iot/services", params=params, headers=upper).status_code == 204
    assert client.get("/iot/services", headers=mixed).json()["count"] == 0


def test_two_fiware_service_lines_are_refused_not_one_of_them_taken(client: TestClient) -> None:
    """The first of two `fiware-service` lines was the service: a proxy checking the other
    line would have let a request provision into a service it did not allow."""
    two = [("fiware-service", "firma"), ("fiware-service", "firmb"), ("fiware-servicepath", "/")]
    group = {"apikey": "k-two", "resource": "/iot/d", "entity_type": "Two"}
    answer = client.post("/iot/services", json={"services": [group]}, headers=two)
    assert answer.status_code == 400, answer.text
    assert "more than one fiware-service" in answer.json()["message"]
    for service in ("firma", "firmb"):
        headers = {"fiware-service": service, "fiware-servicepath": "/"}
        listed = client.get("/iot/services", headers=headers)
        assert listed.status_code == 200 and listed.json()["count"] == 0, listed.text


def test_without_fiware_headers_provisioning_is_in_the_default_tenant_and_path(
    client: TestClient,
) -> None:
    # Dalgu's documented default (docs/testbed.md), where an IoT Agent answers 400
    # MISSING_HEADERS: the default NGSI-LD tenant, which devices reach without headers too
    group = {"apikey": "k-default", "resource": "/iot/d", "entity_type": "NoService"}
    created = client.post("/iot/services", json={"services": [group]})
    assert created.status_code == 201, created.text
    shown = client.get("/iot/services").json()["services"]
    assert [(g["service"], g["subservice"]) for g in shown] == [("", "/")]
    assert client.get("/iot/services", headers=AGENT).json()["count"] == 0
    assert client.post("/iot/d?k=k-default&i=n1", content=b"t|1").status_code == 200
    assert client.get(f"{E}/urn:ngsi-ld:NoService:n1").status_code == 200
    only_service = {"fiware-service": "agent"}  # the path defaults to "/", as in Orion
    device = {"device_id": "n2", "apikey": "k-x"}
    created = client.post("/iot/devices", json={"devices": [device]}, headers=only_service)
    assert created.status_code == 201
    assert client.get("/iot/devices/n2", headers=only_service).json()["service_path"] == "/"


def test_a_provisioning_post_answers_an_empty_json_object(client: TestClient) -> None:
    """Outside tester iota-14: the agents answer `{}` (application/json) with the 201."""
    group = {"apikey": "k-empty-body", "resource": "/iot/d", "entity_type": "K20"}
    created = client.post("/iot/services", json={"services": [group]})
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json" and created.json() == {}
    device = {"device_id": "eb1", "apikey": "k-empty-body", "entity_type": "K20"}
    made = client.post("/iot/devices", json={"devices": [device]})
    assert made.status_code == 201 and made.json() == {}


def test_a_refusal_names_list_positions_in_brackets(client: TestClient) -> None:
    """Outside tester iota-21: one path notation, as the expression messages write it."""
    group = {"apikey": "k-path", "resource": "/iot/d", "entity_type": "V"}
    refused = client.post(
        "/iot/services", json={"services": [{**group, "commands": [{"type": "command"}]}]}
    )
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("services[0].commands[0].name: ")


def test_one_measure_mapped_to_two_attributes_is_refused_naming_both(client: TestClient) -> None:
    """Outside tester iota-20: the second attribute was silently fed, the first never."""
    mappings = [
        {"object_id": "t", "name": "a", "type": "Number"},
        {"object_id": "t", "name": "b", "type": "Number"},
    ]
    group = {"apikey": "k-dup", "resource": "/iot/d", "entity_type": "V", "attributes": mappings}
    refused = client.post("/iot/services", json={"services": [group]})
    assert refused.status_code == 400
    detail = refused.json()["detail"]
    assert "services[0].attributes[1].object_id" in detail and "attributes[0]" in detail
