"""A context source that cannot be reached is a 502 whose ProblemDetails does not claim an
NGSI-LD type bound to another status: `about:blank` (RFC 9457 §4.2.1), titled as the status,
where it was InternalError, which Table 6.3.2-1 binds to 500 (outside tester http-17)."""

from __future__ import annotations

from starlette.testclient import TestClient

UNREACHABLE = "http://127.0.0.1:21998"  # nothing listens here (the fixer's port range)


def test_an_unreachable_source_is_a_bad_gateway_of_no_ngsi_ld_type(client: TestClient) -> None:
    registration = {
        "id": "urn:ngsi-ld:ContextSourceRegistration:r1",
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Boat"}]}],
        "endpoint": UNREACHABLE,
    }
    assert client.post("/ngsi-ld/v1/csourceRegistrations", json=registration).status_code == 201
    response = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Car:missing")
    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["type"] == "about:blank"
    assert problem["title"] == "Bad Gateway"
    assert problem["status"] == 502
    assert UNREACHABLE in problem["detail"]
