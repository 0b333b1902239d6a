"""Snapshots (ETSI GS CIM 009 V1.9.1 clauses 5.16, 6.36–6.38) and EntityMaps (6.35) are not
built: their resources answer OperationNotSupported (Table 5.5.2-1, 422 by Table 6.3.2-1), which
a client can tell from "no such snapshot", rather than a bare 404 (outside tester http-13)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ngsi-ld/v1/snapshots"),
        ("POST", "/ngsi-ld/v1/snapshots"),
        ("DELETE", "/ngsi-ld/v1/snapshots"),
        ("GET", "/ngsi-ld/v1/snapshots/urn:ngsi-ld:Snapshot:1"),
        ("PATCH", "/ngsi-ld/v1/snapshots/urn:ngsi-ld:Snapshot:1"),
        ("POST", "/ngsi-ld/v1/snapshots/urn:ngsi-ld:Snapshot:1/clone"),
        ("GET", "/ngsi-ld/v1/entityMaps/urn:ngsi-ld:EntityMap:1"),
    ],
)
def test_snapshots_and_entity_maps_are_not_supported(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, json={} if method in ("POST", "PATCH") else None)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/OperationNotSupported"
    assert "not built" in problem["detail"]
