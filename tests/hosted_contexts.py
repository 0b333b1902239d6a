"""@contexts hosted by the broker under test (`/jsonldContexts`), and Link headers to them."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

CONTEXT_REL = 'rel="http://www.w3.org/ns/json-ld#context"'


def hosted(client: TestClient, context: dict[str, Any]) -> str:
    """The URL of `context`, hosted by the broker."""
    created = client.post("/ngsi-ld/v1/jsonldContexts", json={"@context": context})
    assert created.status_code == 201, created.text
    url: str = client.get(created.headers["location"], params={"details": "true"}).json()["URL"]
    return url


def link_to(client: TestClient, context: dict[str, Any]) -> dict[str, str]:
    """A `Link` header to `context`, hosted by the broker."""
    return {"Link": f"<{hosted(client, context)}>; {CONTEXT_REL}"}
