"""The served OpenAPI document is true of what Dalgu answers when things go right: a client
generated from it (an outside test used one) reads every answer of an ordinary session, on
both stores: each status is declared for its operation, and each body matches the declared
schema of its media type. tests/test_openapi_fuzz.py checks the same of malformed requests."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema_rs
import pytest
from starlette.testclient import TestClient

V1 = "/ngsi-ld/v1"
CAR = "urn:ngsi-ld:Vehicle:truth-1"


class Document:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in spec["paths"]
        ]

    def check(self, response: httpx.Response) -> None:
        """`response` is one the document declares for its request."""
        request = response.request
        path = request.url.path
        matches = [template for pattern, template in self.templates if pattern.match(path)]
        assert matches, f"{path} is not in the document"
        template = min(matches, key=lambda t: t.count("{"))  # a literal segment wins
        operation = self.spec["paths"][template][request.method.lower()]
        declared = operation["responses"].get(str(response.status_code))
        assert declared is not None, (
            f"{request.method} {template} answered {response.status_code}, not declared: "
            f"{response.text[:300]}"
        )
        if "$ref" in declared:
            declared = self.spec["components"]["responses"][declared["$ref"].rsplit("/", 1)[1]]
        content = declared.get("content")
        if not content or not response.content:
            return
        kind = response.headers["content-type"].split(";")[0]
        assert kind in content, f"{request.method} {template}: {kind} not declared"
        schema = {"components": self.spec["components"], **content[kind]["schema"]}
        errors = [
            e.message for e in jsonschema_rs.validator_for(schema).iter_errors(response.json())
        ]
        assert not errors, f"{request.method} {template} {response.status_code}: {errors}"


@pytest.fixture
def document(client: TestClient) -> Document:
    return Document(client.get(f"{V1}/openapi.json").json())


def car(entity_id: str = CAR, speed: float = 40) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Vehicle",
        "speed": {"type": "Property", "value": speed, "observedAt": "2026-12-07T10:00:00Z"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [128.6, 35.8]},
        },
    }


def test_an_ordinary_session_is_read_through_the_document(
    client: TestClient, document: Document
) -> None:
    def seen(response: httpx.Response, status: int) -> httpx.Response:
        assert response.status_code == status, response.text
        document.check(response)
        return response

    seen(client.post(f"{V1}/entities", json=car()), 201)
    seen(client.post(f"{V1}/entities", json=car()), 409)
    seen(client.get(f"{V1}/entities/{CAR}"), 200)
    seen(client.get(f"{V1}/entities/{CAR}", params={"options": "keyValues"}), 200)
    seen(client.get(f"{V1}/entities/{CAR}", headers={"Accept": "application/geo+json"}), 200)
    seen(client.get(f"{V1}/entities/{CAR}", headers={"Accept": "application/ld+json"}), 200)
    seen(client.get(f"{V1}/entities/urn:ngsi-ld:Vehicle:none"), 404)
    seen(client.get(f"{V1}/entities", params={"type": "Vehicle", "q": "speed>10"}), 200)
    seen(client.get(f"{V1}/entities", params={"type": "Vehicle", "pick": "speed"}), 200)
    seen(
        client.get(
            f"{V1}/entities",
            params={"type": "Vehicle"},
            headers={"Accept": "application/geo+json"},
        ),
        200,
    )
    seen(client.get(f"{V1}/entities", params={"type": "Vehicle", "limit": "100000"}), 403)
    seen(client.get(f"{V1}/entities", headers={"Accept": "text/csv"}), 406)
    seen(
        client.post(
            f"{V1}/entityOperations/query",
            json={"type": "Query", "entities": [{"type": "Vehicle"}]},
        ),
        200,
    )
    more = [car("urn:ngsi-ld:Vehicle:truth-2"), car("urn:ngsi-ld:Vehicle:truth-3")]
    seen(client.post(f"{V1}/entityOperations/create", json=more), 201)
    seen(client.post(f"{V1}/entityOperations/create", json=more), 207)
    seen(client.post(f"{V1}/entityOperations/upsert", json=[car("urn:ngsi-ld:Vehicle:t4")]), 201)
    seen(client.post(f"{V1}/entityOperations/upsert", json=[car("urn:ngsi-ld:Vehicle:t4")]), 204)
    seen(client.post(f"{V1}/entityOperations/update", json=[car(speed=50)]), 204)
    seen(client.post(f"{V1}/entityOperations/delete", json=["urn:ngsi-ld:Vehicle:nope"]), 207)
    speed = {"speed": {"type": "Property", "value": 1}}
    seen(
        client.post(f"{V1}/entities/{CAR}/attrs", json=speed, params={"options": "noOverwrite"}),
        207,
    )
    seen(client.patch(f"{V1}/entities/{CAR}/attrs", json=speed), 204)
    seen(client.patch(f"{V1}/entities/{CAR}/attrs", json={"scope": "/a"}), 207)  # none to update
    seen(client.patch(f"{V1}/entities/{CAR}/attrs/speed", json={"value": 3}), 204)
    seen(client.patch(f"{V1}/entities/{CAR}", json=speed), 204)
    seen(client.get(f"{V1}/types"), 200)
    seen(client.get(f"{V1}/types", params={"details": "true"}), 200)
    seen(client.get(f"{V1}/types/Vehicle"), 200)
    seen(client.get(f"{V1}/attributes"), 200)
    seen(client.get(f"{V1}/attributes", params={"details": "true"}), 200)
    seen(client.get(f"{V1}/attributes/speed"), 200)
    seen(client.get(f"{V1}/info/sourceIdentity"), 200)
    seen(client.get(f"{V1}/jsonldContexts"), 200)
    seen(client.get(f"{V1}/jsonldContexts", params={"details": "true"}), 200)
    subscription = {
        "type": "Subscription",
        "entities": [{"type": "Vehicle"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    created = seen(client.post(f"{V1}/subscriptions", json=subscription), 201)
    one = created.headers["location"].rsplit("/", 1)[1]
    seen(client.get(f"{V1}/subscriptions"), 200)
    seen(client.get(f"{V1}/subscriptions/{one}"), 200)
    seen(client.patch(f"{V1}/subscriptions/{one}", json={"throttling": 5}), 204)
    seen(client.delete(f"{V1}/subscriptions/{one}"), 204)
    seen(client.get(f"{V1}/temporal/entities/{CAR}"), 200)
    seen(client.get(f"{V1}/temporal/entities", params={"type": "Vehicle", "lastN": "5"}), 200)
    seen(
        client.get(
            f"{V1}/temporal/entities/{CAR}",
            params={
                "aggrMethods": "max",
                "aggrPeriodDuration": "PT1H",
                "options": "aggregatedValues",
            },
        ),
        200,
    )
    registration = {
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Lamp"}]}],
        "endpoint": "http://127.0.0.1:9",
    }
    made = seen(client.post(f"{V1}/csourceRegistrations", json=registration), 201)
    reg = made.headers["location"].rsplit("/", 1)[1]
    seen(client.get(f"{V1}/csourceRegistrations/{reg}"), 200)
    seen(client.get(f"{V1}/csourceRegistrations", params={"type": "Lamp"}), 200)
    seen(client.delete(f"{V1}/csourceRegistrations/{reg}"), 204)
    seen(client.delete(f"{V1}/entities/{CAR}"), 204)
