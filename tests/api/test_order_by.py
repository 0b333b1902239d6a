"""Entity ordering (clause 4.23): orderBy on values, members, several terms, distance."""

from __future__ import annotations

from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"


def ids(client: TestClient, **params: str) -> list[str]:
    response = client.get(E, params={"type": "Building", **params})
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


def buildings(client: TestClient) -> None:
    rows = [
        ("urn:b:1", "Zeta", 3, [129.0, 35.0]),
        ("urn:b:2", "Alpha", 10, [128.6, 35.87]),
        ("urn:b:3", "Mu", 3, [128.7, 35.9]),
    ]
    for entity_id, name, floors, point in rows:
        client.post(
            E,
            json={
                "id": entity_id,
                "type": "Building",
                "name": {"value": name, "observedAt": f"2026-11-2{floors % 10}T00:00:00Z"},
                "floors": floors,
                "address": {"value": {"city": name[::-1]}},
                "location": {"type": "Point", "coordinates": point},
            },
        )
    client.post(E, json={"id": "urn:b:4", "type": "Building", "floors": "many"})


def test_order_by_values_and_directions(client: TestClient) -> None:
    buildings(client)
    assert ids(client, orderBy="name") == ["urn:b:2", "urn:b:3", "urn:b:1", "urn:b:4"]
    assert ids(client, orderBy="name;desc") == ["urn:b:1", "urn:b:3", "urn:b:2", "urn:b:4"]
    # numbers before strings (clause 4.23.2); ties go to the next term, then the id
    assert ids(client, orderBy="floors,name") == ["urn:b:3", "urn:b:1", "urn:b:2", "urn:b:4"]
    assert ids(client, orderBy="floors;desc,name;desc") == [
        "urn:b:2",
        "urn:b:1",
        "urn:b:3",
        "urn:b:4",
    ]
    assert ids(client, orderBy="address[city]") == ["urn:b:2", "urn:b:1", "urn:b:3", "urn:b:4"]
    assert ids(client, orderBy="name.observedAt")[:3] == ["urn:b:2", "urn:b:1", "urn:b:3"]
    assert ids(client, orderBy="id;desc") == ["urn:b:4", "urn:b:3", "urn:b:2", "urn:b:1"]
    assert ids(client, orderBy="name", limit="2", offset="1") == ["urn:b:3", "urn:b:1"]


def test_order_by_distance(client: TestClient) -> None:
    buildings(client)
    near_daegu = ids(client, orderBy="location;dist-asc", orderFrom="[128.6,35.87]")
    assert near_daegu == ["urn:b:2", "urn:b:3", "urn:b:1", "urn:b:4"]
    far_first = ids(client, orderBy="location;dist-desc", orderFrom="[128.6,35.87]")
    assert far_first == ["urn:b:1", "urn:b:3", "urn:b:2", "urn:b:4"]


def test_bad_order_by(client: TestClient) -> None:
    buildings(client)
    for bad in ("name;sideways", "", "name,,floors", "location;dist-asc"):
        response = client.get(E, params={"type": "Building", "orderBy": bad})
        assert response.status_code == 400, bad


def test_order_by_datatype_follows_clause_4_23_2(client: TestClient) -> None:
    values: list[object] = [
        "2026-11-25T10:00:00Z",
        True,
        {"city": "Daegu"},
        "text",
        "2026-11-25",
        7,
        "12:30:00",
    ]
    for n, value in enumerate(values):
        client.post(E, json={"id": f"urn:m:{n}", "type": "M", "v": {"value": value}})
    client.post(E, json={"id": "urn:m:9", "type": "M", "other": 1})
    response = client.get(E, params={"type": "M", "orderBy": "v"})
    assert [e["id"] for e in response.json()] == [
        "urn:m:5",  # number
        "urn:m:3",  # string
        "urn:m:2",  # object
        "urn:m:1",  # boolean
        "urn:m:6",  # time
        "urn:m:4",  # date
        "urn:m:0",  # date-time
        "urn:m:9",  # no such attribute (a value is never null)
    ]


def test_order_by_type_and_scope(client: TestClient) -> None:
    client.post(E, json={"id": "urn:s:1", "type": "Zone", "scope": "/b", "n": 1})
    client.post(E, json={"id": "urn:s:2", "type": "Area", "scope": ["/c", "/a"], "n": 1})
    client.post(E, json={"id": "urn:s:3", "type": "Zone", "n": 1})

    def ordered(order_by: str) -> list[str]:
        response = client.get(E, params={"attrs": "n", "orderBy": order_by})
        return [e["id"] for e in response.json()]

    assert ordered("scope") == ["urn:s:2", "urn:s:1", "urn:s:3"]  # no scope goes last
    assert ordered("scope;desc") == ["urn:s:2", "urn:s:1", "urn:s:3"]  # /c, /b, none
    assert ordered("type;desc,id;desc") == ["urn:s:3", "urn:s:1", "urn:s:2"]


def test_order_by_pages_without_gaps_or_repeats(client: TestClient) -> None:
    for n in range(12):
        client.post(E, json={"id": f"urn:p:{n:02}", "type": "P", "rank": n % 3})
    pages = [
        [
            e["id"]
            for e in client.get(
                E, params={"type": "P", "orderBy": "rank;desc", "limit": "5", "offset": str(o)}
            ).json()
        ]
        for o in (0, 5, 10)
    ]
    seen = [i for page in pages for i in page]
    assert sorted(seen) == [f"urn:p:{n:02}" for n in range(12)]
    assert seen[:4] == ["urn:p:02", "urn:p:05", "urn:p:08", "urn:p:11"]  # ties by id


def test_post_query_orders_by_its_ordering_member(client: TestClient) -> None:
    buildings(client)
    query = {
        "type": "Query",
        "entities": [{"type": "Building"}],
        "ordering": {"orderBy": ["floors;desc", "name"]},
    }
    response = client.post("/ngsi-ld/v1/entityOperations/query", json=query)
    assert response.status_code == 200, response.text
    assert [e["id"] for e in response.json()] == ["urn:b:2", "urn:b:3", "urn:b:1", "urn:b:4"]
    near = {
        "type": "Query",
        "entities": [{"type": "Building"}],
        "ordering": {"orderBy": ["location;dist-asc"], "coordinates": [129.0, 35.0]},
    }
    response = client.post("/ngsi-ld/v1/entityOperations/query", json=near)
    assert response.json()[0]["id"] == "urn:b:1"


def names_in_order(client: TestClient, **params: str) -> list[str]:
    response = client.get(E, params={"type": "N", "orderBy": "name", **params})
    assert response.status_code == 200, response.text
    return [e["name"]["value"] for e in response.json()]


def test_strings_order_by_the_icu_root_collation(client: TestClient) -> None:
    for n, name in enumerate(["b", "Z", "é", "a", "_x", "e", "A", "1"]):
        client.post(E, json={"id": f"urn:n:{n}", "type": "N", "name": name})
    expected = ["_x", "1", "a", "A", "b", "e", "é", "Z"]  # not code point order
    assert names_in_order(client) == expected
    assert names_in_order(client, collation="und-x-icu") == expected


def test_collation_names_an_icu_collation(client: TestClient) -> None:
    for n, name in enumerate(["Muller", "Müller", "Mueller", "Mzz"]):
        client.post(E, json={"id": f"urn:n:{n}", "type": "N", "name": name})
    params = {"type": "N", "orderBy": "name", "collation": "de-u-co-phonebk"}
    response = client.get(E, params=params)
    if client.app.state.dalgu.settings.store == "sqlite":  # type: ignore[attr-defined]
        assert response.status_code == 422  # ICU root only, said so
        return
    # German phone book order reads ü as ue
    assert [e["name"]["value"] for e in response.json()] == ["Mueller", "Müller", "Muller", "Mzz"]
    assert names_in_order(client) == ["Mueller", "Muller", "Müller", "Mzz"]


def test_a_collation_that_is_no_language_tag_is_bad_request_data(client: TestClient) -> None:
    response = client.get(E, params={"type": "N", "orderBy": "name", "collation": "x'; drop"})
    assert response.status_code == 400


def test_distance_orders_by_the_haversine_on_both_stores(client: TestClient) -> None:
    """Clause 4.23.1: sort by distance is the spherical distance by the Haversine formula.
    From (0, 0), a point 0.997° east is 110.86 km away on the sphere and one 1° north 111.20
    km; on the WGS 84 ellipsoid it is the other way round, and PostgreSQL ordered so (a
    differential test of the two stores)."""
    for name, point in (("north", [0.0, 1.0]), ("east", [0.997, 0.0])):
        body = {
            "id": f"urn:b:{name}",
            "type": "Building",
            "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": point}},
        }
        assert client.post(E, json=body).status_code == 201
    nearest = ids(client, orderBy="location;dist-asc", orderFrom="[0,0]")
    assert nearest == ["urn:b:east", "urn:b:north"]
    assert ids(client, orderBy="location;dist-desc", orderFrom="[0,0]") == nearest[::-1]
