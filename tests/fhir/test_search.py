"""FHIR search evaluated by each store: parameters, prefixes, paging, sorting, _include and
_revinclude."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.fhir.conftest import ADMIN, create, entries, observation, patient


def search(client: TestClient, query: str) -> dict[str, Any]:
    response = client.get(f"/fhir/{query}", headers=ADMIN)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def two_patients(client: TestClient) -> tuple[str, str]:
    kim = create(client, patient("Kim", identifier=[{"system": "urn:daegu:mrn", "value": "M-1"}]))
    lee = create(client, {**patient("Lee"), "gender": "male", "birthDate": "1975-02-11"})
    for day, value in ((1, 70), (2, 80), (3, 90)):
        create(client, observation(kim, at=f"2024-03-0{day}T10:00:00Z", value=value))
    create(client, observation(kim, code="59408-5", at="2024-03-02T10:00:00Z", value=97))
    create(client, observation(lee, at="2024-03-02T10:00:00Z", value=60))
    return kim, lee


def test_patient_and_code_select_one_patients_heart_rates(
    client: TestClient, two_patients: tuple[str, str]
) -> None:
    kim, _ = two_patients
    found = search(client, f"Observation?patient={kim}&code=http://loinc.org|8867-4")
    assert found["total"] == 3
    assert {o["subject"]["reference"] for o in entries(found)} == {f"Patient/{kim}"}


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        ("date=ge2024-03-02", 2),
        ("date=gt2024-03-02", 1),
        ("date=le2024-03-02", 2),
        ("date=lt2024-03-02", 1),
        ("date=2024-03-02", 1),
        ("date=ge2024-03-01T12:00:00Z&date=le2024-03-03T09:00:00Z", 1),
    ],
)
def test_date_prefixes_compare_ranges(
    client: TestClient, two_patients: tuple[str, str], dates: str, expected: int
) -> None:
    kim, _ = two_patients
    found = search(client, f"Observation?subject=Patient/{kim}&code=8867-4&{dates}")
    assert found["total"] == expected


def test_fhirclient_date_operators_search_as_their_r4_prefixes(
    client: TestClient, two_patients: tuple[str, str]
) -> None:
    """fhirclient's `struct={'date': {'$gt': '2024-03-02'}}` sends `date=>2024-03-02`."""
    kim, _ = two_patients
    for legacy, expected in ((">", 1), (">=", 2), ("<", 1), ("<=", 2)):
        value = quote(f"{legacy}2024-03-02")
        found = search(client, f"Observation?subject=Patient/{kim}&code=8867-4&date={value}")
        assert found["total"] == expected, legacy


def test_category_and_code_without_system(
    client: TestClient, two_patients: tuple[str, str]
) -> None:
    assert search(client, "Observation?category=vital-signs")["total"] == 5
    assert search(client, "Observation?code=59408-5")["total"] == 1
    assert search(client, "Observation?code=http://other|59408-5")["total"] == 0


def test_patient_parameters(client: TestClient, two_patients: tuple[str, str]) -> None:
    kim, lee = two_patients
    assert [p["id"] for p in entries(search(client, "Patient?identifier=urn:daegu:mrn|M-1"))] == [
        kim
    ]
    assert [p["id"] for p in entries(search(client, "Patient?name=le"))] == [lee]
    assert [p["id"] for p in entries(search(client, "Patient?family:exact=Kim"))] == [kim]
    assert [p["id"] for p in entries(search(client, "Patient?gender=male"))] == [lee]
    assert [p["id"] for p in entries(search(client, "Patient?birthdate=lt1979"))] == [lee]
    assert search(client, "Patient?name:contains=im")["total"] == 1


def test_id_and_last_updated(client: TestClient, two_patients: tuple[str, str]) -> None:
    kim, lee = two_patients
    assert search(client, f"Patient?_id={kim},{lee}")["total"] == 2
    assert search(client, "Patient?_lastUpdated=gt2000-01-01")["total"] == 2
    assert search(client, "Patient?_lastUpdated=lt2000-01-01")["total"] == 0


def test_last_updated_matches_the_instant_the_resource_shows(client: TestClient) -> None:
    """A sync client asking what changed after the newest `meta.lastUpdated` it saw must not
    get that resource again (the store keeps microseconds, the resource shows milliseconds:
    fhir report #11)."""
    for n in range(5):  # five instants: one whose microseconds are 000 would pass anyway
        pid = create(client, patient("Sync"))
        shown = client.get(f"/fhir/Patient/{pid}", headers=ADMIN).json()["meta"]["lastUpdated"]
        for prefix, expected in (("eq", 1), ("le", 1), ("ge", 1), ("gt", 0), ("lt", 0)):
            value = quote(f"{prefix}{shown}")
            found = search(client, f"Patient?_id={pid}&_lastUpdated={value}")["total"]
            assert found == expected, (n, prefix, shown)


def test_count_pages_with_next_links(client: TestClient, two_patients: tuple[str, str]) -> None:
    first = search(client, "Observation?category=vital-signs&_count=2")
    assert len(first["entry"]) == 2 and first["total"] == 5
    seen = [e["resource"]["id"] for e in first["entry"]]
    page = first
    while any(link["relation"] == "next" for link in page["link"]):
        url = next(link["url"] for link in page["link"] if link["relation"] == "next")
        page = client.get(url.split("/fhir/", 1)[1].join(["/fhir/", ""]), headers=ADMIN).json()
        seen += [e["resource"]["id"] for e in page["entry"]]
    assert len(seen) == len(set(seen)) == 5


def test_sort_by_date_descending(client: TestClient, two_patients: tuple[str, str]) -> None:
    kim, _ = two_patients
    found = search(client, f"Observation?patient={kim}&code=8867-4&_sort=-date")
    assert [o["valueQuantity"]["value"] for o in entries(found)] == [90, 80, 70]


def test_include_adds_the_patient_once(client: TestClient, two_patients: tuple[str, str]) -> None:
    kim, _ = two_patients
    found = search(client, f"Observation?patient={kim}&_include=Observation:patient")
    included = [e for e in found["entry"] if e["search"]["mode"] == "include"]
    assert [e["resource"]["id"] for e in included] == [kim]


def test_revinclude_adds_the_resources_that_refer_to_the_matches(
    client: TestClient, two_patients: tuple[str, str]
) -> None:
    kim, _ = two_patients
    found = search(client, f"Patient?_id={kim}&_revinclude=Observation:subject")
    modes = [(e["search"]["mode"], e["resource"]["resourceType"]) for e in found["entry"]]
    assert modes == [("match", "Patient")] + [("include", "Observation")] * 4
    subjects = {e["resource"]["subject"]["reference"] for e in found["entry"][1:]}
    assert subjects == {f"Patient/{kim}"}
    # every match's referrers, each once, even when two _revinclude name the same ones
    both = search(client, "Patient?_revinclude=Observation:subject&_revinclude=Observation:patient")
    observations = [e["resource"]["id"] for e in both["entry"] if e["search"]["mode"] == "include"]
    assert len(observations) == len(set(observations)) == 5
    assert both["total"] == 2  # the total counts matches only
    assert "_revinclude=Observation%3Asubject" in both["link"][0]["url"]


@pytest.mark.parametrize(
    "value",
    ["Observation", "Observation:code", "Nothing:subject", "Observation:subject:Device"],
)
def test_revinclude_that_cannot_refer_to_the_type_is_400(client: TestClient, value: str) -> None:
    response = client.get(f"/fhir/Patient?_revinclude={value}", headers=ADMIN)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_device_parameters(client: TestClient) -> None:
    kim = create(client, patient())
    device = create(
        client,
        {
            "resourceType": "Device",
            "identifier": [{"system": "urn:dalgu:ngsi-ld", "value": "urn:ngsi-ld:Wearable:w1"}],
            "patient": {"reference": f"Patient/{kim}"},
        },
    )
    create(client, {**observation(kim), "device": {"reference": f"Device/{device}"}})
    assert [d["id"] for d in entries(search(client, f"Device?patient={kim}"))] == [device]
    assert search(client, "Device?identifier=urn:ngsi-ld:Wearable:w1")["total"] == 1
    assert search(client, f"Observation?device=Device/{device}")["total"] == 1


def test_deleted_and_superseded_versions_are_not_found(client: TestClient) -> None:
    kim = create(client, patient("Kim"))
    client.put(f"/fhir/Patient/{kim}", json={**patient("Lee"), "id": kim}, headers=ADMIN)
    assert search(client, "Patient?name=kim")["total"] == 0
    assert search(client, "Patient?name=lee")["total"] == 1
    client.delete(f"/fhir/Patient/{kim}", headers=ADMIN)
    assert search(client, "Patient?name=lee")["total"] == 0


def test_summary_count_returns_only_the_total(
    client: TestClient, two_patients: tuple[str, str]
) -> None:
    found = search(client, "Observation?_summary=count")
    assert found["total"] == 5 and "entry" not in found


def test_unknown_parameter_is_400_unless_lenient(client: TestClient) -> None:
    assert client.get("/fhir/Patient?shoe-size=9", headers=ADMIN).status_code == 400
    lenient = client.get(
        "/fhir/Patient?shoe-size=9", headers={**ADMIN, "Prefer": "handling=lenient"}
    )
    assert lenient.status_code == 200


def test_patient_matches_only_subjects_that_are_patients(client: TestClient) -> None:
    kim = create(client, patient("Kim"))
    on_patient = create(client, observation(kim))
    # the same id, as a Device: `patient` shares `subject`'s rows, of Patient targets only
    device = {"resourceType": "Device", "id": kim}
    assert client.put(f"/fhir/Device/{kim}", json=device, headers=ADMIN).status_code == 201
    on_device = create(client, {**observation(kim), "subject": {"reference": f"Device/{kim}"}})
    assert [o["id"] for o in entries(search(client, f"Observation?patient={kim}"))] == [on_patient]
    both = search(client, f"Observation?subject={kim}&_sort=_id")
    assert sorted(o["id"] for o in entries(both)) == sorted([on_patient, on_device])
    typed = search(client, f"Observation?patient=Patient/{kim}&code=8867-4")
    assert [o["id"] for o in entries(typed)] == [on_patient]


def test_date_searches_a_timing_by_its_outer_limits(client: TestClient) -> None:
    """search.html, date: of a Timing "only the outer limits matter" (its events, its
    `repeat.boundsPeriod`)."""
    kim = create(client, patient())
    events = {"event": ["2025-07-01T10:00:00Z", "2025-07-03T10:00:00Z"]}
    bounded = {"repeat": {"boundsPeriod": {"start": "2025-09-01", "end": "2025-09-30"}}}
    made = {}
    for name, timing in (("events", events), ("bounded", bounded)):
        obs = observation(kim)
        del obs["effectiveDateTime"]
        made[name] = create(client, obs | {"effectiveTiming": timing})
    expectations = {
        "date=2025-07-01": [],  # not eq: the Timing reaches past that day
        "date=ge2025-07-02&date=le2025-07-02": ["events"],
        "date=2025-07-01T10:00:00Z": [],
        "date=ge2025-07-03T10:00:00Z": ["bounded", "events"],
        "date=gt2025-07-03T10:00:00Z": ["bounded"],
        "date=sa2025-08": ["bounded"],
        "date=2025-09": ["bounded"],
        "date=eb2025-07-01T10:00:01Z": [],
        "date=lt2025-07-01T10:00:01Z": ["events"],
    }
    for query, names in expectations.items():
        found = entries(search(client, f"Observation?patient={kim}&{query}"))
        assert sorted(o["id"] for o in found) == sorted(made[n] for n in names), query


def test_allergy_code_finds_the_substance_of_a_reaction(client: TestClient) -> None:
    """R4 clinical-code: `AllergyIntolerance.code | AllergyIntolerance.reaction.substance`."""
    kim = create(client, patient("Kim"))
    cashew = {"system": "http://snomed.info/sct", "code": "227493005"}
    by_reaction = create(
        client,
        {
            "resourceType": "AllergyIntolerance",
            "patient": {"reference": f"Patient/{kim}"},
            "reaction": [{"substance": {"coding": [cashew]}, "manifestation": [{"text": "hives"}]}],
        },
    )
    by_code = create(
        client,
        {
            "resourceType": "AllergyIntolerance",
            "patient": {"reference": f"Patient/{kim}"},
            "code": {"coding": [cashew]},
        },
    )
    for query in ("code=227493005", f"patient={kim}&code=http://snomed.info/sct|227493005"):
        found = search(client, f"AllergyIntolerance?{query}&_sort=_id")
        assert sorted(a["id"] for a in entries(found)) == sorted([by_reaction, by_code]), query
    assert search(client, "AllergyIntolerance?code:not=227493005")["total"] == 0


def test_a_revinclude_cut_at_the_largest_page_says_so(settings: Settings) -> None:
    """What `_revinclude` leaves out past the server's largest page is not silent: an
    OperationOutcome entry (search mode `outcome`) says the list may be incomplete."""
    small = settings.model_copy(update={"fhir_max_count": 3})
    with TestClient(build_app(small)) as client:
        kim = create(client, patient())
        for minute in range(4):
            create(client, observation(kim, at=f"2024-03-01T10:0{minute}:00Z"))
        url = f"/fhir/Patient?_id={kim}&_revinclude=Observation:subject"
        bundle = client.get(url, headers=ADMIN).json()
        modes = [e["search"]["mode"] for e in bundle["entry"]]
        assert modes.count("include") == 3 and modes.count("outcome") == 1
        outcome = bundle["entry"][-1]["resource"]
        assert outcome["issue"][0]["code"] == "incomplete"
        lee = create(client, patient("Lee"))
        create(client, observation(lee))
        url = f"/fhir/Patient?_id={lee}&_revinclude=Observation:subject"
        modes = [e["search"]["mode"] for e in client.get(url, headers=ADMIN).json()["entry"]]
        assert modes == ["match", "include"]
