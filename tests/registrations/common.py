"""What the registration tests share: the endpoint, a registration payload, a hosted context."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

R = "/ngsi-ld/v1/csourceRegistrations"
LINK = '<{}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
EX = "https://example.org/ns#"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"


def registration(n: int | str = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:ContextSourceRegistration:{n}",
        "type": "ContextSourceRegistration",
        "information": [
            {
                "entities": [{"id": "urn:ngsi-ld:Vehicle:A456", "type": "Vehicle"}],
                "propertyNames": ["brandName", "speed"],
                "relationshipNames": ["isParked"],
            },
            {
                "entities": [{"idPattern": ".*downtown$", "type": "OffStreetParking"}],
                "propertyNames": ["availableSpotNumber"],
            },
        ],
        "endpoint": "http://my.csource.org:1026",
        **extra,
    }


def hosted_link(client: TestClient) -> dict[str, str]:
    """A Link header to a context, hosted by the broker, that maps Vehicle and speed to EX."""
    ctx = {"@context": {"ex": EX, "Vehicle": "ex:Vehicle", "speed": "ex:speed"}}
    hosted = client.post("/ngsi-ld/v1/jsonldContexts", json=ctx)
    assert hosted.status_code == 201
    url = client.get(hosted.headers["location"], params={"details": "true"}).json()["URL"]
    return {"Link": LINK.format(url)}


def problem_type(response: Any) -> str:
    kind: str = response.json()["type"]
    return kind.rsplit("/", 1)[-1]
