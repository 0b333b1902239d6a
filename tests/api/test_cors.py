"""Browser pages of the configured origins may call the APIs (CORS); others, and every origin
when none is configured, get no CORS headers. A 405 names every method the path serves, and
so does a plain OPTIONS request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import InvalidSettings, Settings
from tests.conftest import IN_PROCESS

DASH = "https://dash.example.org"
E = "/ngsi-ld/v1/entities"
VEHICLE = {
    "id": "urn:ngsi-ld:Vehicle:c1",
    "type": "Vehicle",
    "speed": {"type": "Property", "value": 3},
}


def _client(tmp_path: Path, origins: str) -> Iterator[TestClient]:
    settings = Settings.load(
        sqlite_path=tmp_path / "dalgu.db", mqtt_broker="off", cors_origins=origins, **IN_PROCESS
    )
    with TestClient(build_app(settings)) as client:
        yield client


@pytest.fixture
def cors(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path, f"{DASH}, http://127.0.0.1:5173")


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(tmp_path, "")


def _preflight(client: TestClient, path: str, origin: str, method: str, headers: str) -> object:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_a_preflight_from_an_allowed_origin_is_granted_the_method_and_headers(
    cors: TestClient,
) -> None:
    response = _preflight(cors, E, DASH, "POST", "content-type, link, ngsild-tenant")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == DASH
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert {"content-type", "link", "ngsild-tenant"} <= {h.strip() for h in allowed.split(",")}
    # FHIR, with a bearer token, from the second origin
    response = _preflight(cors, "/fhir/Patient", "http://127.0.0.1:5173", "GET", "authorization")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"


def test_responses_to_an_allowed_origin_expose_the_ngsi_ld_headers(cors: TestClient) -> None:
    created = cors.post(E, json=VEHICLE, headers={"Origin": DASH})
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == DASH
    exposed = {
        h.strip().lower() for h in created.headers["access-control-expose-headers"].split(",")
    }
    assert {"location", "link", "ngsild-results-count", "content-range"} <= exposed
    # the plain Retrieve Entity (answered before routing) and a query with a count
    got = cors.get(f"{E}/{VEHICLE['id']}", headers={"Origin": DASH})
    assert got.status_code == 200 and got.json()["speed"]["value"] == 3
    assert got.headers["access-control-allow-origin"] == DASH
    counted = cors.get(E, params={"type": "Vehicle", "count": "true"}, headers={"Origin": DASH})
    assert counted.headers["ngsild-results-count"] == "1"
    assert counted.headers["access-control-allow-origin"] == DASH


def test_another_origin_is_refused_with_a_problem_and_gets_no_cors_headers(
    cors: TestClient,
) -> None:
    response = _preflight(cors, E, "https://evil.example", "POST", "content-type")
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert "origin" in problem["detail"]
    assert "access-control-allow-origin" not in response.headers
    got = cors.get(f"{E}/urn:ngsi-ld:Vehicle:none", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in got.headers


def test_without_origins_there_is_no_cors(plain: TestClient) -> None:
    plain.post(E, json=VEHICLE)
    got = plain.get(f"{E}/{VEHICLE['id']}", headers={"Origin": DASH})
    assert got.status_code == 200
    assert not any(name.startswith("access-control-") for name in got.headers)
    response = _preflight(plain, E, DASH, "POST", "content-type")
    assert response.status_code == 204  # a plain OPTIONS answer, which grants nothing
    assert not any(name.startswith("access-control-") for name in response.headers)


def test_any_origin(tmp_path: Path) -> None:
    for client in _client(tmp_path, "*"):
        response = _preflight(client, E, "https://anyone.example", "PATCH", "content-type")
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "origins", ["dash.example.org", "https://dash.example.org/app", "*, " + DASH]
)
def test_origins_that_are_not_origins_are_refused_at_start(origins: str) -> None:
    with pytest.raises(InvalidSettings, match="DALGU_CORS_ORIGINS"):
        Settings.load(cors_origins=origins)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/ngsi-ld/v1/subscriptions", {"GET", "HEAD", "POST"}),
        ("DELETE", "/ngsi-ld/v1/types", {"GET", "HEAD"}),
        ("POST", "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:X:1", {"GET", "HEAD", "DELETE"}),
        ("PATCH", "/ngsi-ld/v1/entityOperations/upsert", {"POST"}),
        # an entity id may hold slashes, so /entities/{id} matches this path too: its methods
        # are not this resource's; DELETE and PUT here are refused with a helpful detail
        ("GET", f"{E}/urn:ngsi-ld:X:1/attrs", {"POST", "PATCH"}),
        ("DELETE", f"{E}/urn:ngsi-ld:X:1/attrs", {"POST", "PATCH"}),
    ],
)
def test_a_method_no_route_serves_is_a_405_naming_every_method_that_is(
    plain: TestClient, method: str, path: str, allowed: set[str]
) -> None:
    response = plain.request(method, path)  # GET of `/attrs` too, not an entity `…/attrs`
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed
    assert response.json()["status"] == 405


@pytest.mark.parametrize(
    ("path", "allowed", "accept_patch"),
    [
        (f"{E}/urn:ngsi-ld:X:1", "DELETE, GET, HEAD, OPTIONS, PATCH, PUT", True),
        (f"{E}/urn:ngsi-ld:X:1/attrs", "OPTIONS, PATCH, POST", True),
        (f"{E}/urn:ngsi-ld:X:1/attrs/speed", "DELETE, OPTIONS, PATCH, PUT", True),
        (E, "DELETE, GET, HEAD, OPTIONS, POST", None),
        ("/ngsi-ld/v1/subscriptions/urn:s:1", "DELETE, GET, HEAD, OPTIONS, PATCH", True),
        ("/ngsi-ld/v1/types", "GET, HEAD, OPTIONS", None),
    ],
)
def test_options_names_the_resources_methods_and_its_patch_bodies(
    plain: TestClient, path: str, allowed: str, accept_patch: bool | None
) -> None:
    """RFC 9110 9.3.7 and RFC 5789 3.1, as Orion-LD answers (the FIWARE Merge-Patch
    tutorial); `Accept-Patch` must say the truth: a PATCH in each type it names is taken."""
    response = plain.options(path)
    assert response.status_code == 204
    assert response.headers["allow"] == allowed
    if accept_patch is None:
        assert "accept-patch" not in response.headers
        return
    named = {media.strip() for media in response.headers["accept-patch"].split(",")}
    merge = "application/merge-patch+json"
    assert (merge in named) is accept_patch
    assert {"application/json", "application/ld+json"} <= named
    refused = plain.patch(path, content=b"{}", headers={"Content-Type": merge})
    assert (refused.status_code == 415) is not accept_patch


def test_options_on_a_path_nothing_serves_is_a_404(plain: TestClient) -> None:
    assert plain.options("/ngsi-ld/v1/nothing").status_code == 404
