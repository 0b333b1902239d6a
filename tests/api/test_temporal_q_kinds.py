"""`q` on the temporal history over every attribute kind (clause 5.7.3 filters with the `q` of
clause 4.9), from an outside test: a query's `q` matched nothing on a LanguageProperty,
ListProperty or ListRelationship value (an empty 200), and was a 422 on a language, a JSON key
or a sub-attribute.

Clause 4.9: "If the target element is a ListProperty, the target value is defined as the
valueList array"; "If the target element is a LanguageProperty, and no target language is
specified, the target value is ... any of the key-value pairs held within the languageMap";
"If the target element is a ListRelationship, the target object is defined as the array of
objects"; the Equal operator matches when the value "Is included in the target value, if the
latter is an array". The entity query (`/entities`) does so; over one instance per attribute
the temporal query must find the same entities.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

E = "/ngsi-ld/v1/entities"
T = "/ngsi-ld/v1/temporal/entities"
Q = "/ngsi-ld/v1/temporal/entityOperations/query"
AT = "2026-11-01T00:00:00Z"
WINDOW = {"timeproperty": "observedAt", "timerel": "after", "timeAt": "2026-01-01T00:00:00Z"}


BUSES: list[dict[str, Any]] = [
    {
        "id": "urn:ngsi-ld:Bus:1",
        "type": "Bus",
        "name": {"type": "LanguageProperty", "languageMap": {"en": "Square", "fr": "Place"}},
        "periods": {"type": "ListProperty", "valueList": [1, 2, "x"]},
        "route": {"type": "ListRelationship", "objectList": ["urn:a", "urn:b"]},
        "speed": {
            "type": "Property",
            "value": 10,
            "unitCode": "KMH",
            "accuracy": {"type": "Property", "value": 0.5, "observedAt": AT},
        },
        "meta": {"type": "JsonProperty", "json": {"id": "x", "nested": {"k": 1}}},
        "addr": {"type": "Property", "value": {"street": "Main", "no": [1, 2]}},
        "color": {"type": "VocabProperty", "vocab": "http://ex.org/Red"},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:1"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [1, 2]}},
        "flag": {"type": "Property", "value": True},
        "label": {"type": "Property", "value": "true"},
        "stamp": {"type": "Property", "value": "2026-11-01T10:00:00"},
        "since": {"type": "Property", "value": {"@type": "DateTime", "@value": AT}},
        "stop": {
            "type": "Property",
            "value": "main",
            "sName": {"type": "LanguageProperty", "languageMap": {"ko": "정류장"}},
            "sList": {"type": "ListProperty", "valueList": ["p", "q"]},
        },
    },
    {
        "id": "urn:ngsi-ld:Bus:2",
        "type": "Bus",
        "name": {"type": "LanguageProperty", "languageMap": {"en": "Park", "de-CH": ["Platz"]}},
        "periods": {"type": "ListProperty", "valueList": [3]},
        "route": {"type": "ListRelationship", "objectList": ["urn:c"]},
        "speed": {"type": "Property", "value": 20, "unitCode": "MTS"},
        "meta": {"type": "JsonProperty", "json": [{"id": "y"}, {"@value": 2}]},
        "addr": {"type": "Property", "value": [{"street": "Side"}, {"street": "Main"}]},
        "color": {"type": "VocabProperty", "vocab": "http://ex.org/Blue"},
        "owner": {"type": "Relationship", "object": "urn:ngsi-ld:Person:2"},
        "flag": {"type": "Property", "value": False},
        "label": {"type": "Property", "value": "[x]"},
        "since": {
            "type": "Property",
            "value": {"@type": "DateTime", "@value": "2026-11-02T09:00:00+09:00"},
        },
        "stop": {"type": "Property", "value": "side"},
        "stamp": {"type": "Property", "value": "2026-02-30T10:00:00Z"},  # no date: text
    },
]

#: each `q` and the buses it finds in the current state (as `/entities` answers)
CASES = {
    "periods==1": ["1"],
    "periods==3": ["2"],
    'periods=="x"': ["1"],
    "periods>2": ["2"],
    "periods==2..5": ["1", "2"],
    "periods==5,3": ["2"],
    'periods!="x"': ["2"],
    'route=="urn:b"': ["1"],
    'route=="urn:a","urn:c"': ["1", "2"],
    'route!="urn:a"': ["2"],
    'name=="Place"': ["1"],
    'name=="Platz"': ["2"],
    'name[fr]=="Place"': ["1"],
    'name[en]=="Place"': [],
    'name[*]=="Square"': ["1"],
    'name[de-CH]=="Platz"': ["2"],
    'name~="^Pl"': ["1", "2"],
    'name!="Place"': ["2"],
    "name[fr]": ["1"],
    'meta[id]=="x"': ["1"],
    'meta[id]=="y"': ["2"],
    "meta[nested.k]==1": ["1"],
    "meta[@value]==2": ["2"],
    "meta[nested]": ["1"],
    'speed.unitCode=="KMH"': ["1"],
    "speed.accuracy==0.5": ["1"],
    "speed.accuracy>0.1": ["1"],
    "speed.accuracy": ["1"],
    "speed.accuracy!=0.5": [],
    "speed.unitCode": ["1", "2"],
    'location[type]=="Point"': [],  # a GeoProperty's geometry is not searched
    "speed.accuracy.observedAt>=2026-10-31T23:00:00Z": ["1"],
    'addr[street]=="Main"': ["1", "2"],
    'addr[street]=="Side"': ["2"],
    "addr[no]==2": ["1"],
    'color=="http://ex.org/Red"': ["1"],
    'owner=="urn:ngsi-ld:Person:2"': ["2"],
    "flag==true": ["1"],
    "flag==false": ["2"],
    'label=="true"': ["1"],
    'label=="[x]"': ["2"],
    "speed==10": ["1"],
    "speed==15..25": ["2"],
    "since==2026-11-02T00:00:00Z": ["2"],
    "since<2026-11-01T12:00:00Z": ["1"],
    "stamp==2026-11-01T19:00:00+09:00": ["1"],
    'stamp=="2026-02-30T10:00:00Z"': ["2"],
    'stop.sName=="정류장"': ["1"],
    'stop.sName[ko]=="정류장"': ["1"],
    'stop.sList=="q"': ["1"],
    'stop=="side"': ["2"],
}


@pytest.fixture
def buses(client: TestClient) -> TestClient:
    for bus in BUSES:
        body = {k: ({**v, "observedAt": AT} if isinstance(v, dict) else v) for k, v in bus.items()}
        created = client.post(E, json=body)
        assert created.status_code == 201, created.text
    return client


def _found(client: TestClient, path: str, q: str, **params: str) -> list[str]:
    response = client.get(path, params={"type": "Bus", "q": q, **params})
    assert response.status_code == 200, (q, response.text)
    return [e["id"].rsplit(":", 1)[1] for e in response.json()]


@pytest.mark.parametrize("q", CASES)
def test_temporal_q_finds_what_the_entity_q_finds_on_every_attribute_kind(
    buses: TestClient, q: str
) -> None:
    """Clause 4.9's target value of every kind, on the entity and the temporal query alike."""
    assert _found(buses, E, q) == CASES[q]
    assert _found(buses, T, q, **WINDOW) == CASES[q]


def test_temporal_q_compares_the_instances_inside_the_time_interval(client: TestClient) -> None:
    """Clause 5.7.3: the entities whose instances in the interval match; the outside tester's
    history of two instances per attribute, an hour apart, by GET and by POST query."""

    def at(hour: int) -> str:
        return f"2024-01-01T0{hour}:00:00Z"

    bus = {
        "id": "urn:ngsi-ld:Bus:tmp",
        "type": "Bus",
        "name": [
            {
                "type": "LanguageProperty",
                "languageMap": {"en": "A", "fr": "a"},
                "observedAt": at(0),
            },
            {
                "type": "LanguageProperty",
                "languageMap": {"en": "B", "fr": "b"},
                "observedAt": at(1),
            },
        ],
        "periods": [
            {"type": "ListProperty", "valueList": [1, 2], "observedAt": at(0)},
            {"type": "ListProperty", "valueList": [3], "observedAt": at(1)},
        ],
        "route": [
            {"type": "ListRelationship", "objectList": ["urn:a", "urn:b"], "observedAt": at(0)},
            {"type": "ListRelationship", "objectList": ["urn:c"], "observedAt": at(1)},
        ],
    }
    assert client.post(T, json=bus).status_code == 201
    early = {"timeproperty": "observedAt", "timerel": "before", "timeAt": at(1)}
    late = {"timeproperty": "observedAt", "timerel": "after", "timeAt": at(1)}
    for q, first, second in [
        ("periods==1", True, False),
        ("periods==3", False, True),
        ('route=="urn:a"', True, False),
        ('route=="urn:c"', False, True),
        ('name=="a"', True, False),
        ('name[fr]=="b"', False, True),
        ('name[en]=="b"', False, False),
    ]:
        assert bool(_found(client, T, q, **early)) is first, q
        assert bool(_found(client, T, q, **late)) is second, q
        body = {
            "type": "Query",
            "entities": [{"type": "Bus"}],
            "q": q,
            "temporalQ": {"timeproperty": "observedAt", "timerel": "after", "timeAt": at(1)},
        }
        response = client.post(Q, json=body)
        assert response.status_code == 200, response.text
        assert bool(response.json()) is second, q
