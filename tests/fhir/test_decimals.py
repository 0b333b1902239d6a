"""Decimals keep the precision they were written with (R4 datatypes.html, decimal: "0.010 is
regarded as different to 0.01, and the original precision should be preserved"; fhir report
#2: `37.50` came back as `37.5`, `1E-400` as `0.0`)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.fhir.conftest import ADMIN

BODY = (
    b'{"resourceType":"Observation","id":"prec","status":"final",'
    b'"code":{"coding":[{"system":"http://loinc.org","code":"8310-5"}]},'
    b'"valueQuantity":{"value":37.50,"unit":"Cel","system":"http://unitsofmeasure.org",'
    b'"code":"Cel"},"component":['
    b'{"code":{"text":"a"},"valueQuantity":{"value":0.010}},'
    b'{"code":{"text":"b"},"valueQuantity":{"value":1.000e2}},'
    b'{"code":{"text":"c"},"valueQuantity":{"value":1E-400}},'
    b'{"code":{"text":"d"},"valueQuantity":{"value":0.1000000000000000055511151231257827}},'
    b'{"code":{"text":"e"},"valueQuantity":{"value":0.00000000000000000000001}}]}'
)
WRITTEN = [
    b'"value":37.50',
    b'"value":0.010}',
    b'"value":1.000e2}',
    b'"value":1E-400}',
    b'"value":0.1000000000000000055511151231257827}',
    b'"value":0.00000000000000000000001}',
]


@pytest.fixture
def stored(client: TestClient) -> bytes:
    response = client.put("/fhir/Observation/prec", content=BODY, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.content


def test_decimals_are_stored_and_answered_as_written(client: TestClient, stored: bytes) -> None:
    read = client.get("/fhir/Observation/prec", headers=ADMIN).content
    found = client.get("/fhir/Observation?_id=prec", headers=ADMIN).content
    for body in (stored, read, found):
        for text in WRITTEN:
            assert text in body, (text, body)


def test_decimals_keep_their_precision_through_patches_and_subsets(
    client: TestClient, stored: bytes
) -> None:
    patch = [{"op": "replace", "path": "/status", "value": "amended"}]
    json_patch = {**ADMIN, "Content-Type": "application/json-patch+json"}
    response = client.patch("/fhir/Observation/prec", json=patch, headers=json_patch)
    assert response.status_code == 200, response.text
    merge = {**ADMIN, "Content-Type": "application/merge-patch+json"}
    document = b'{"valueQuantity":{"value":36.90,"unit":"Cel"}}'
    response = client.patch("/fhir/Observation/prec", content=document, headers=merge)
    assert response.status_code == 200, response.text
    read = client.get("/fhir/Observation/prec", headers=ADMIN).content
    assert b'"value":36.90' in read and b'"status":"amended"' in read
    for text in WRITTEN[1:]:
        assert text in read
    subset = client.get("/fhir/Observation/prec?_elements=component", headers=ADMIN).content
    assert b'"value":0.010}' in subset
