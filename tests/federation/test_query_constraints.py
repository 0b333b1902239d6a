"""A query across context sources respects what each registration registers (clause
4.3.6.1): the request is cut to its entity types and ids, and a source's answer counts only
for the entities it registers and the query selects, on every store backend."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.contextsource import ContextSource

E = "/ngsi-ld/v1/entities"
R = "/ngsi-ld/v1/csourceRegistrations"
X1 = "urn:ngsi-ld:Room:X1"


@pytest.fixture
def source() -> Iterator[ContextSource]:
    cs = ContextSource()
    yield cs
    cs.close()


def register(client: TestClient, source: ContextSource, information: list[Any]) -> None:
    body = {
        "type": "ContextSourceRegistration",
        "information": information,
        "endpoint": source.endpoint,
    }
    created = client.post(R, json=body)
    assert created.status_code == 201, created.text


def thing(entity_id: str, kind: str, **attrs: Any) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": kind,
        **{k: {"type": "Property", "value": v} for k, v in attrs.items()},
    }


def answering(
    client: TestClient, source: ContextSource, params: dict[str, str], answer: list[Any]
) -> list[Any]:
    """The client's query, the source answering `answer` to what it is sent."""
    assert client.get(E, params=params).status_code == 200
    sent = source.requests("GET")[-1].path.removeprefix("/ngsi-ld/v1")
    source.reply("GET", sent, 200, answer)
    got = client.get(E, params=params)
    assert got.status_code == 200, got.text
    result: list[Any] = got.json()
    return result


ROOMS = [
    thing(X1, "Room", temperature=21, secret=1),
    thing("urn:ngsi-ld:Room:OTHER", "Room", temperature=25),
    thing("urn:ngsi-ld:Room:COLD", "Room", temperature=5),
    thing("urn:ngsi-ld:Car:C", "Car", temperature=25),
]


def test_a_source_s_answer_counts_for_what_it_registers(
    client: TestClient, source: ContextSource
) -> None:
    """A source that ignores `id` returned a Room the registration does not name, and a Car
    to a `type=Room` query."""
    info = [{"entities": [{"type": "Room", "id": X1}], "propertyNames": ["temperature"]}]
    register(client, source, info)
    params = {"type": "Room", "options": "keyValues"}
    got = answering(client, source, params, ROOMS)
    assert got == [{"id": X1, "type": "Room", "temperature": 21}]


def test_a_source_s_answer_counts_for_what_the_query_selects(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, [{"entities": [{"type": "Room"}]}])
    params = {"type": "Room", "q": "temperature>10", "options": "keyValues"}
    got = answering(client, source, params, ROOMS)
    assert [e["id"] for e in got] == [X1, "urn:ngsi-ld:Room:OTHER"]
    # an attribute the sources were not asked for cannot be checked: their word is taken
    projected = {**params, "attrs": "secret"}
    got = answering(client, source, projected, [thing(X1, "Room", secret=1)])
    assert [e["id"] for e in got] == [X1]


BEES = [{"entities": [{"type": "Bee"}, {"type": "Wasp", "idPattern": "urn:w:.*"}]}]


def sent(source: ContextSource) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(source.requests("GET")[-1].path).query))


def test_a_forwarded_query_names_only_registered_types_and_ids(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, BEES)
    assert client.get(E, params={"type": "Bee|Ant"}).status_code == 200
    assert sent(source)["type"] == "Bee"
    assert client.get(E, params={"type": "Wasp", "id": "urn:x:1,urn:w:2"}).status_code == 200
    assert sent(source)["id"] == "urn:w:2"
    asked = len(source.requests("GET"))
    assert client.get(E, params={"type": "Ant"}).json() == []
    assert client.get(E, params={"type": "(Bee;Ant)"}).json() == []  # discovery: no match
    assert client.get(E, params={"type": "Wasp", "id": "urn:x:1"}).json() == []
    assert len(source.requests("GET")) == asked  # neither is the registration's


def test_a_query_batch_goes_only_where_its_entities_are_registered(
    client: TestClient, source: ContextSource
) -> None:
    register(client, source, BEES)
    source.reply("POST", "/entityOperations/query", 200, [])
    query = "/ngsi-ld/v1/entityOperations/query"
    foreign = [{"type": "Wasp", "id": "urn:x:1"}, {"type": "Ant"}]
    got = client.post(query, json={"type": "Query", "entities": foreign})
    assert got.status_code == 200 and got.json() == []
    assert source.requests("POST") == []
    mixed = [*foreign, {"type": "Bee"}]
    assert client.post(query, json={"type": "Query", "entities": mixed}).status_code == 200
    (seen,) = source.requests("POST")
    assert seen.body["entities"] == [{"type": "Bee"}]


def test_system_times_are_the_source_s(client: TestClient, source: ContextSource) -> None:
    """`options=sysAttrs` stamped a source's entity with the time it was read."""
    register(client, source, [{"entities": [{"type": "Room"}]}])
    created = "2026-12-07T20:35:07.504Z"
    times = {"createdAt": created, "modifiedAt": created}
    room = {"id": X1, "type": "Room", "temperature": {"type": "Property", "value": 21, **times}}
    source.reply("GET", f"/entities/{X1}?options=sysAttrs", 200, {**room, **times})
    got = client.get(f"{E}/{X1}", params={"options": "sysAttrs"})
    assert got.status_code == 200, got.text
    assert (got.json()["createdAt"], got.json()["temperature"]["modifiedAt"]) == (created, created)
    source.reply("GET", "/entities?type=Room&options=sysAttrs", 200, [{**room, **times}])
    (listed,) = client.get(E, params={"type": "Room", "options": "sysAttrs"}).json()
    assert listed["modifiedAt"] == created
    # an entity's own times, when a source gives none, are its attributes' span
    source.reply("GET", f"/entities/{X1}?options=sysAttrs", 200, room)
    spanned = client.get(f"{E}/{X1}", params={"options": "sysAttrs"}).json()
    assert (spanned["createdAt"], spanned["modifiedAt"]) == (created, created)
    # attributes a source gives none for show none, rather than made up ones
    source.reply("GET", f"/entities/{X1}?options=sysAttrs", 200, thing(X1, "Room", temperature=2))
    bare = client.get(f"{E}/{X1}", params={"options": "sysAttrs"}).json()
    assert "createdAt" not in bare["temperature"]


SEOUL = {
    "type": "Polygon",
    "coordinates": [[[126.8, 37.4], [127.2, 37.4], [127.2, 37.7], [126.8, 37.7], [126.8, 37.4]]],
}


def test_a_source_that_cannot_hold_the_answer_is_not_asked(
    client: TestClient, source: ContextSource
) -> None:
    """Clause 4.3.6.1: a registration's area, and a historical source's observationInterval
    (clause 5.10.2.1), are respected when forwarding, as discovery respects them."""
    body = {
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Shelter"}]}],
        "endpoint": source.endpoint,
        "location": SEOUL,
    }
    assert client.post(R, json=body).status_code == 201
    near = {"type": "Shelter", "georel": "near;maxDistance==1000", "geometry": "Point"}
    daegu = client.get(E, params={**near, "coordinates": "[128.6,35.87]"})
    assert daegu.status_code == 200 and daegu.json() == []
    assert source.requests("GET") == []
    assert client.get(E, params={**near, "coordinates": "[127.0,37.5]"}).status_code == 200
    assert len(source.requests("GET")) == 1  # inside its area: asked
    archive = {
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Archive"}]}],
        "endpoint": source.endpoint,
        "observationInterval": {"startAt": "2020-01-01T00:00:00Z", "endAt": "2021-01-01T00:00:00Z"},
    }
    assert client.post(R, json=archive).status_code == 201
    assert client.get(E, params={"type": "Archive"}).json() == []
    assert len(source.requests("GET")) == 1


def test_a_source_of_other_datasets_or_scopes_is_not_asked(
    client: TestClient, source: ContextSource
) -> None:
    """Clause 5.12: a registration's datasetId and scope are matched, as discovery does."""
    body = {
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Ds"}]}],
        "endpoint": source.endpoint,
        "datasetId": ["urn:ds:a"],
        "scope": "/seoul",
    }
    assert client.post(R, json=body).status_code == 201
    for params in ({"datasetId": "urn:ds:b"}, {"scopeQ": "/daegu"}):
        assert client.get(E, params={"type": "Ds", **params}).json() == []
    assert source.requests("GET") == []
    for params in ({"datasetId": "urn:ds:a,urn:ds:b"}, {"scopeQ": "/seoul"}):
        assert client.get(E, params={"type": "Ds", **params}).status_code == 200
    assert len(source.requests("GET")) == 2
