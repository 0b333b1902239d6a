"""URI parameters (ETSI GS CIM 009 V1.9.1 Tables 6.4.3.2-1, 6.5.3.1-1): each of cardinality
0..1, so a repeated one is refused, not reduced to its last occurrence (outside tester http-5);
the parameters a table lists are taken on its resource and those it does not list refused
(http-14)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
ONE = E + "/urn:ngsi-ld:Car:1"


@pytest.fixture
def cars(client: TestClient) -> TestClient:
    for n in (1, 2):
        body = {
            "id": f"urn:ngsi-ld:Car:{n}",
            "type": "Car",
            "speed": {"type": "Property", "value": n},
        }
        assert client.post(E, json=body).status_code == 201
    return client


@pytest.mark.parametrize(
    "url",
    [
        E + "?type=Car&type=Boat",
        E + "?type=Car&q=speed%3E1&q=speed%3C2",
        E + "?type=Car&limit=1&limit=2",
        ONE + "?options=keyValues&options=sysAttrs",
        "/ngsi-ld/v1/subscriptions?limit=1&limit=2",
        "/ngsi-ld/v1/types?details=true&details=false",
    ],
)
def test_a_repeated_parameter_is_refused_by_name(cars: TestClient, url: str) -> None:
    response = cars.get(url)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["type"].endswith("/BadRequestData")
    name = url.split("&")[-1].split("=")[0]
    assert f"{name} is given more than once" in problem["detail"]


def test_a_repeated_parameter_of_a_write_is_refused(cars: TestClient) -> None:
    response = cars.delete(ONE + "?type=Boat&type=Car")
    assert response.status_code == 400
    assert cars.get(ONE).status_code == 200  # nothing deleted


@pytest.mark.parametrize(
    "url",
    [
        E + "?type=Car&splitEntities=false",
        E + "?type=Car&entityMap=true&entityMapLifetime=PT1H",
        ONE + "?entityMap=true&entityMapLifetime=PT1H",
        "/ngsi-ld/v1/temporal/entities?type=Car&timerel=after&timeAt=2020-01-01T00:00:00Z"
        "&splitEntities=false",
    ],
)
def test_listed_parameters_are_taken(cars: TestClient, url: str) -> None:
    assert cars.get(url).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        E + "?type=Car&via=x",
        E + "?type=Car&details=true",
        E + "?type=Car&timeAt=2020-01-01T00:00:00Z",
        ONE + "?limit=1",
        ONE + "?count=true",
    ],
)
def test_parameters_of_other_resources_are_refused(cars: TestClient, url: str) -> None:
    response = cars.get(url)
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/InvalidRequest")
    assert "unknown query parameter" in response.json()["detail"]
