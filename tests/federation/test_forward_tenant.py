"""The tenant a forwarded request names when its registration has none (clause 5.2.9: the
default tenant; `forward_tenant = "request"`: the request's own, as Orion-LD does). An
outside test with the FIWARE IoT Agent, which registers its devices' commands without a
`tenant` in its service (`openiot` in every FIWARE tutorial): its commands reached the agent
without the tenant, which then knew no such device."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.contextsource import ContextSource

E = "/ngsi-ld/v1/entities"
R = "/ngsi-ld/v1/csourceRegistrations"
LAMP = "urn:ngsi-ld:Lamp:1"
OPENIOT = {"NGSILD-Tenant": "openiot"}


@pytest.fixture
def source() -> Iterator[ContextSource]:
    cs = ContextSource()
    yield cs
    cs.close()


def _send_command(client: TestClient, source: ContextSource, **registration: str) -> str | None:
    """Register the lamp's `on` at `source` in tenant openiot, send the command; the tenant
    header the source saw."""
    body = {
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"id": LAMP, "type": "Lamp"}], "propertyNames": ["on"]}],
        "endpoint": source.endpoint,
        "mode": "exclusive",
        "operations": ["updateOps"],
        **registration,
    }
    assert client.post(R, json=body, headers=OPENIOT).status_code == 201
    source.reply("PATCH", f"/entities/{LAMP}/attrs/on", 204)
    sent = client.patch(f"{E}/{LAMP}/attrs/on", json={"value": ""}, headers=OPENIOT)
    assert sent.status_code == 204, sent.text
    (seen,) = source.requests("PATCH")
    return seen.headers.get("ngsild-tenant")


def test_by_default_a_registration_without_tenant_names_none(
    client: TestClient, source: ContextSource
) -> None:
    assert _send_command(client, source) is None


def test_the_registrations_own_tenant_is_named_either_way(
    client: TestClient, source: ContextSource
) -> None:
    assert _send_command(client, source, tenant="site-a") == "site-a"


def test_forward_tenant_request_names_the_requests_tenant(
    settings: Settings, source: ContextSource
) -> None:
    configured = settings.model_copy(update={"forward_tenant": "request"})
    with TestClient(build_app(configured)) as client:
        assert _send_command(client, source) == "openiot"
        # the default tenant stays unnamed, and a registration's own tenant still wins
        body = {
            "type": "ContextSourceRegistration",
            "information": [{"entities": [{"id": "urn:ngsi-ld:Lamp:2", "type": "Lamp"}]}],
            "endpoint": source.endpoint,
            "mode": "redirect",
        }
        assert client.post(R, json=body).status_code == 201
        source.reply("GET", "/entities/urn:ngsi-ld:Lamp:2", 200, {"id": "urn:ngsi-ld:Lamp:2"})
        client.get(f"{E}/urn:ngsi-ld:Lamp:2")
        (seen,) = source.requests("GET")
        assert "ngsild-tenant" not in seen.headers


def test_a_sources_error_without_problem_details_keeps_its_meaning(
    client: TestClient, source: ContextSource
) -> None:
    """A FIWARE IoT Agent answers a command for a device it does not know with 404
    `{"name": "DEVICE_NOT_FOUND", ...}`: the client gets a ResourceNotFound with the source's
    404, not an InternalError."""
    body = {
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"id": LAMP, "type": "Lamp"}], "propertyNames": ["on"]}],
        "endpoint": source.endpoint,
        "mode": "exclusive",
        "operations": ["updateOps"],
    }
    assert client.post(R, json=body).status_code == 201
    source.reply(
        "PATCH", f"/entities/{LAMP}/attrs/on", 404, {"name": "DEVICE_NOT_FOUND", "message": "x"}
    )
    sent = client.patch(f"{E}/{LAMP}/attrs/on", json={"value": ""})
    assert sent.status_code == 404
    assert sent.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
