"""Vital signs arriving through the gateway from a patient-linked wearable become down-sampled
FHIR vital-signs Observations; the NGSI-LD side keeps no link to the patient."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.fhir.wearables import link_system
from dalgu.settings import Settings
from tests.fhir.conftest import ADMIN, create, entries, patient

ACME = {"fiware-service": "health", "fiware-servicepath": "/"}
EVIL = {"fiware-service": "evil", "fiware-servicepath": "/"}
WEARABLE = "urn:ngsi-ld:Wearable:w1"


@pytest.fixture
def app(settings: Settings) -> Iterator[TestClient]:
    with TestClient(build_app(settings.model_copy(update={"fhir_vitals_window": 60.0}))) as c:
        group = {
            "apikey": "wk",
            "resource": "/iot/json",
            "entity_type": "Wearable",
            "attributes": [
                {"object_id": "hr", "name": "heartRate", "type": "Number"},
                {"object_id": "spo2", "name": "oxygenSaturation", "type": "Number"},
                {"object_id": "sys", "name": "systolicBloodPressure", "type": "Number"},
                {"object_id": "dia", "name": "diastolicBloodPressure", "type": "Number"},
            ],
        }
        assert c.post("/iot/services", json={"services": [group]}, headers=ACME).status_code == 201
        # another firm's wearables: the same mapping, entities of the same ids in its tenant
        other = {**group, "apikey": "evk"}
        assert c.post("/iot/services", json={"services": [other]}, headers=EVIL).status_code == 201
        yield c


def link(client: TestClient, device_id: str, entity_id: str, tenant: str = "health") -> str:
    pid = create(client, patient())
    device = {
        "resourceType": "Device",
        "id": device_id,
        "identifier": [{"system": link_system(tenant), "value": entity_id}],
        "patient": {"reference": f"Patient/{pid}"},
    }
    assert client.put(f"/fhir/Device/{device_id}", json=device, headers=ADMIN).status_code == 201
    return pid


def send(client: TestClient, device: str, at: str, key: str = "wk", **values: float) -> None:
    payload = {**values, "TimeInstant": at}
    response = client.post(f"/iot/json?k={key}&i={device}", json=payload)
    assert response.status_code == 200, response.text


def flush(client: TestClient) -> None:
    recorder = client.app.state.dalgu_vitals  # type: ignore[attr-defined]
    client.portal.call(recorder.flush, time.time())  # type: ignore[union-attr]


def vitals(client: TestClient, pid: str, code: str) -> list[dict[str, Any]]:
    query = f"/fhir/Observation?patient={pid}&code=http://loinc.org|{code}&_sort=date"
    return entries(client.get(query, headers=ADMIN).json())


def stats(element: dict[str, Any]) -> dict[str, Any]:
    (extension,) = element["extension"]
    return {
        e["url"]: e.get("valueQuantity", {}).get("value", e.get("valueInteger"))
        for e in extension["extension"]
    }


def test_one_observation_per_window_with_min_mean_max(app: TestClient) -> None:
    pid = link(app, "watch-1", WEARABLE)
    send(app, "w1", "2024-03-01T10:00:05Z", hr=70)
    send(app, "w1", "2024-03-01T10:00:35Z", hr=80)
    send(app, "w1", "2024-03-01T10:01:10Z", hr=90)  # opens the next window: the first closes
    (first,) = vitals(app, pid, "8867-4")
    assert first["valueQuantity"] == {
        "value": 75.0,
        "unit": "beats/minute",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    }
    assert stats(first) == {"min": 70.0, "max": 80.0, "count": 2}
    assert first["effectivePeriod"] == {
        "start": "2024-03-01T10:00:05.000Z",
        "end": "2024-03-01T10:00:35.000Z",
    }
    assert first["device"] == {"reference": "Device/watch-1"}
    assert first["category"][0]["coding"][0]["code"] == "vital-signs"
    flush(app)  # the last window, once its time has passed
    assert [o["valueQuantity"]["value"] for o in vitals(app, pid, "8867-4")] == [75.0, 90.0]


def test_an_entity_of_the_same_id_in_another_tenant_is_not_the_linked_wearable(
    app: TestClient,
) -> None:
    pid = link(app, "watch-t", WEARABLE)  # the link names tenant "health"
    send(app, "w1", "2024-03-01T10:00:05Z", key="evk", hr=190)  # firm "evil"'s w1
    send(app, "w1", "2024-03-01T10:00:10Z", hr=72)
    send(app, "w1", "2024-03-01T10:00:15Z", key="evk", hr=190)
    flush(app)
    (only,) = vitals(app, pid, "8867-4")
    assert stats(only) == {"min": 72.0, "max": 72.0, "count": 1}


def test_a_link_without_a_tenant_names_the_default_tenants_entity(app: TestClient) -> None:
    pid = link(app, "watch-d", WEARABLE, tenant="")
    send(app, "w1", "2024-03-01T10:00:05Z", hr=72)  # tenant "health": not the default's
    flush(app)
    assert vitals(app, pid, "8867-4") == []
    entity = {
        "id": WEARABLE,
        "type": "Wearable",
        "heartRate": {"type": "Property", "value": 64, "observedAt": "2024-03-01T10:00:20Z"},
    }
    assert app.post("/ngsi-ld/v1/entities", json=entity).status_code == 201
    flush(app)
    (only,) = vitals(app, pid, "8867-4")
    assert only["valueQuantity"]["value"] == 64.0


def test_blood_pressure_becomes_one_panel_with_two_components(app: TestClient) -> None:
    pid = link(app, "watch-2", "urn:ngsi-ld:Wearable:w2")
    send(app, "w2", "2024-03-01T10:00:10Z", sys=120, dia=80)
    send(app, "w2", "2024-03-01T10:00:40Z", sys=130, dia=84, spo2=97)
    flush(app)
    (panel,) = vitals(app, pid, "85354-9")
    components = {c["code"]["coding"][0]["code"]: c for c in panel["component"]}
    assert components["8480-6"]["valueQuantity"]["value"] == 125.0
    assert components["8462-4"]["valueQuantity"]["value"] == 82.0
    assert components["8480-6"]["valueQuantity"]["code"] == "mm[Hg]"
    (spo2,) = vitals(app, pid, "59408-5")
    assert spo2["effectiveDateTime"] == "2024-03-01T10:00:40.000Z"
    assert spo2["valueQuantity"]["code"] == "%"


def test_wearable_without_a_linked_device_records_nothing(app: TestClient) -> None:
    send(app, "w9", "2024-03-01T10:00:05Z", hr=70)
    flush(app)
    found = app.get("/fhir/Observation?code=8867-4", headers=ADMIN).json()
    assert found["total"] == 0


def test_ngsi_ld_entity_carries_no_patient_link(app: TestClient) -> None:
    pid = link(app, "watch-3", "urn:ngsi-ld:Wearable:w3")
    send(app, "w3", "2024-03-01T10:00:05Z", hr=70)
    entity = app.get(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Wearable:w3", headers={"NGSILD-Tenant": "health"}
    )
    assert entity.status_code == 200
    assert entity.json()["heartRate"]["value"] == 70
    assert pid not in entity.text and "Patient" not in entity.text


def test_a_device_linked_after_the_first_readings_is_heard(app: TestClient) -> None:
    send(app, "w4", "2024-03-01T10:00:05Z", hr=60)  # not linked yet: nothing recorded
    pid = link(app, "watch-4", "urn:ngsi-ld:Wearable:w4")  # the Device write is seen at once
    send(app, "w4", "2024-03-01T10:00:20Z", hr=64)
    flush(app)
    (only,) = vitals(app, pid, "8867-4")
    assert stats(only) == {"min": 64.0, "max": 64.0, "count": 1}


def test_links_are_read_page_by_page(app: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dalgu.fhir.wearables._PAGE", 2)  # five Devices: three pages
    patients = {n: link(app, f"watch-p{n}", f"urn:ngsi-ld:Wearable:p{n}") for n in range(5)}
    for n in patients:
        send(app, f"p{n}", "2024-03-01T10:00:05Z", hr=70 + n)
    flush(app)
    for n, pid in patients.items():
        (only,) = vitals(app, pid, "8867-4")
        assert only["valueQuantity"]["value"] == 70.0 + n
        assert only["device"] == {"reference": f"Device/watch-p{n}"}


def test_city_sensors_named_like_vital_signs_cost_no_search_each(app: TestClient) -> None:
    # every weather station has a `temperature`, a vital sign's name: the recorder must not
    # search the FHIR store once per station
    link(app, "watch-5", "urn:ngsi-ld:Wearable:w5")
    recorder = app.app.state.dalgu_vitals  # type: ignore[attr-defined]
    searches = 0
    search = recorder.fhir.store.fhir_search

    async def counted(query: Any) -> Any:
        nonlocal searches
        searches += 1
        return await search(query)

    recorder.fhir.store.fhir_search = counted
    stations = [
        {
            "id": f"urn:ngsi-ld:WeatherObserved:s{n}",
            "type": "WeatherObserved",
            "temperature": {"type": "Property", "value": 10 + n},
        }
        for n in range(40)
    ]
    response = app.post(
        "/ngsi-ld/v1/entityOperations/create", json=stations, headers={"NGSILD-Tenant": "health"}
    )
    assert response.status_code == 201, response.text
    assert searches <= 1
