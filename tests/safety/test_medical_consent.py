"""A medical emergency's alert carries the driver's medical summary only when the patient's own
FHIR Consent permits the safety service, and then only the clinical items, nothing naming the
patient: through the HTTP gateway and the real FHIR service, on both stores."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.safety.service import config_groups
from dalgu.settings import Settings
from tests.fhir.conftest import ADMIN, consent, create, entries, patient, practitioner_actor
from tests.fhir.test_summary import active, concept, register_safety_service
from tests.safety.crafted import collapsing_from, steady_wearable
from tests.safety.test_drivers import _drive, _until
from tests.safety.test_tenants import _alerts, _create

COLLAPSE = 20.0
FIRM = "fleet1"


def _patient_with_a_condition(client: TestClient, family: str) -> str:
    pid = create(client, patient(family))
    create(
        client,
        {
            "resourceType": "Condition",
            "subject": {"reference": f"Patient/{pid}"},
            "code": concept("49436004", "Atrial fibrillation"),
            "clinicalStatus": active("condition"),
        },
    )
    return pid


def _driver(client: TestClient, vehicle: str, person: str, pid: str) -> None:
    """The fleet's roster: the Person names the record and says yes, the Vehicle its driver;
    a stored baseline lets a collapse 20 s into the drive be seen."""
    _create(
        client,
        FIRM,
        {
            "id": person,
            "type": "Person",
            "fhirPatient": {"type": "Property", "value": f"Patient/{pid}"},
            "medicalSummaryConsent": {"type": "Property", "value": True},
        },
    )
    _create(
        client,
        FIRM,
        {
            "id": f"urn:ngsi-ld:Vehicle:{vehicle}",
            "type": "Vehicle",
            "driver": {"type": "Relationship", "object": person},
        },
    )
    levels = {"driver": person, "levels": {"incapacitation.steeringActivity": 2.0}}
    _create(
        client,
        FIRM,
        {
            "id": f"urn:ngsi-ld:DriverBaseline:{person}",
            "type": "DriverBaseline",
            "awakeLevels": {"type": "JsonProperty", "json": levels},
        },
    )


def _alert_of(client: TestClient, vehicle: str) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        source = f"urn:ngsi-ld:Vehicle:{vehicle}"
        return [a for a in _alerts(client, FIRM) if a["alertSource"]["object"] == source]

    (alert,) = _until(found, f"the alert of {vehicle}")
    return alert


def test_the_summary_needs_the_patients_fhir_consent_and_names_nobody(
    settings: Settings,
) -> None:
    configured = settings.model_copy(update={"safety": True})
    key = f"m{uuid.uuid4().hex[:6]}"
    groups = config_groups(key, f"{key}-w")
    for group in groups["services"]:
        group["resource"] = "/iot/json"
    with TestClient(build_app(configured)) as client:
        made = client.post("/iot/services", json=groups, headers={"fiware-service": FIRM})
        assert made.status_code == 201, made.text
        register_safety_service(client)
        kim = _patient_with_a_condition(client, "Kim")
        lee = _patient_with_a_condition(client, "Lee")
        # Kim's own Consent permits the safety service; Lee has none (the NGSI-LD flag only)
        create(client, consent(kim, practitioner_actor("Device/vehicle-safety")))
        _driver(client, "car-kim", "urn:ngsi-ld:Person:kim", kim)
        _driver(client, "car-lee", "urn:ngsi-ld:Person:lee", lee)

        start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
        for vehicle in ("car-kim", "car-lee"):
            _drive(
                client,
                (key, f"{key}-w"),
                vehicle,
                start,
                COLLAPSE + 15,
                collapsing_from(COLLAPSE),
                steady_wearable,
            )
        consented = _alert_of(client, "car-kim")
        assert consented["driver"]["object"] == "urn:ngsi-ld:Person:kim"
        summary = consented["medicalSummary"]["value"]
        assert summary["conditions"] == [
            {"system": "http://snomed.info/sct", "code": "49436004", "text": "Atrial fibrillation"}
        ]
        assert set(summary) == {"conditions", "allergies", "vitals"}
        # nothing in the broker's Alert names the patient
        assert kim not in str(consented) and "Kim" not in str(consented)
        assert "medicalSummary" not in _alert_of(client, "car-lee")
        # and nobody broke the glass: Kim's record was read by her Consent, Lee's not at all
        assert entries(client.get("/fhir/AuditEvent?purpose=BTG", headers=ADMIN).json()) == []
