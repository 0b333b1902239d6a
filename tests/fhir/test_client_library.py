"""A standard FHIR client library (fhirpy) creates, reads, updates, patches and searches
through a real Dalgu server on loopback, on both stores."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fhirpy import AsyncFHIRClient

from tests.ports import free_port
from tests.server import kill_server, start_server

HEADERS = {"X-Dalgu-Role": "admin"}


@pytest.fixture
def base(tmp_path: Path, dsn: str | None) -> Iterator[str]:
    port = free_port()
    process = start_server(tmp_path / "dalgu.db", port, postgres_dsn=dsn)
    try:
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        kill_server(process)


async def _roundtrip(base: str) -> None:
    client = AsyncFHIRClient(base, extra_headers=HEADERS)
    patient = client.resource(
        "Patient",
        name=[{"family": "Kim", "given": ["Minji"]}],
        gender="female",
        birthDate="1980-05-01",
        identifier=[{"system": "urn:daegu:mrn", "value": "M-7"}],
    )
    await patient.save()
    assert patient.id
    for minute, value in ((0, 70), (1, 75), (2, 80)):
        obs = client.resource(
            "Observation",
            status="final",
            category=[
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                        }
                    ]
                }
            ],
            code={"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            subject=patient.to_reference(),
            effectiveDateTime=f"2024-03-01T10:0{minute}:00Z",
            valueQuantity={
                "value": value,
                "unit": "/min",
                "system": "http://unitsofmeasure.org",
                "code": "/min",
            },
        )
        await obs.save()
    read = await client.reference("Patient", patient.id).to_resource()
    assert read["name"][0]["family"] == "Kim"
    read["gender"] = "other"
    await read.save()
    assert (await client.reference("Patient", patient.id).to_resource())["gender"] == "other"
    await client.patch("Patient", patient.id, gender="unknown", birthDate=None)  # merge JSON
    patched = await client.reference("Patient", patient.id).to_resource()
    assert patched["gender"] == "unknown" and "birthDate" not in patched
    assert patched["name"][0]["family"] == "Kim"
    found = await client.resources("Patient").search(identifier="urn:daegu:mrn|M-7").fetch()
    assert [p.id for p in found] == [patient.id]
    observations = (
        client.resources("Observation")
        .search(patient=patient.id, code="http://loinc.org|8867-4", date__ge="2024-03-01T10:01:00Z")
        .sort("-date")
    )
    assert [o["valueQuantity"]["value"] for o in await observations.fetch()] == [80, 75]
    assert await client.resources("Observation").search(patient=patient.id).count() == 3
    everything = (
        await client.resources("Observation").search(patient=patient.id).limit(2).fetch_all()
    )
    assert len(everything) == 3  # follows the next links


def test_fhirpy_creates_reads_and_searches(base: str) -> None:
    asyncio.run(_roundtrip(base))
