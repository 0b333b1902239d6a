"""Temporal queries, from an outside test: the temporal query every form needs (clause
5.7.4.4), a `between` window that runs backwards, and the paging links of a GET query."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.hosted_contexts import link_to

E = "/ngsi-ld/v1/entities"
T = "/ngsi-ld/v1/temporal/entities"
Q = "/ngsi-ld/v1/temporal/entityOperations/query"


def _rooms(client: TestClient, n: int) -> None:
    for i in range(n):
        room = {
            "id": f"urn:ngsi-ld:Room:{i}",
            "type": "Room",
            "temp": {"type": "Property", "value": i, "observedAt": "2026-11-01T00:00:00Z"},
        }
        assert client.post(E, json=room).status_code == 201


def test_a_post_query_without_a_temporal_query_is_400_as_a_get_is(client: TestClient) -> None:
    _rooms(client, 1)
    get = client.get(T, params={"type": "Room"})
    assert get.status_code == 400
    bodies: list[dict[str, Any]] = [
        {"type": "Query", "entities": [{"type": "Room"}]},
        {"type": "Query", "entities": [{"type": "Room"}], "temporalQ": {}},
        {"type": "Query", "entities": [{"type": "Room"}], "temporalQ": "after"},
    ]
    for body in bodies:
        response = client.post(Q, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["type"].endswith("BadRequestData")
    last = client.post(
        Q, json={"type": "Query", "entities": [{"type": "Room"}], "temporalQ": {"lastN": 1}}
    )
    assert last.status_code == 200, last.text
    assert [e["id"] for e in last.json()] == ["urn:ngsi-ld:Room:0"]


def test_a_between_window_ending_before_it_starts_is_400(client: TestClient) -> None:
    _rooms(client, 1)
    window = {"timerel": "between", "timeAt": "2026-11-02T00:00:00Z"}
    backwards = client.get(
        f"{T}/urn:ngsi-ld:Room:0", params={**window, "endTimeAt": "2026-11-01T00:00:00+09:00"}
    )
    assert backwards.status_code == 400, backwards.text
    # the same instant written in another zone is a later one here: 2026-11-02T01:00Z
    later = client.get(
        f"{T}/urn:ngsi-ld:Room:0", params={**window, "endTimeAt": "2026-11-02T10:00:00+09:00"}
    )
    assert later.status_code == 200, later.text


def test_a_get_query_page_links_to_the_next(client: TestClient) -> None:
    _rooms(client, 5)
    query = {"type": "Room", "timerel": "after", "timeAt": "2026-10-01T00:00:00Z"}
    first = client.get(T, params={**query, "limit": "2", "count": "true"})
    assert first.status_code == 200, first.text
    assert first.headers["NGSILD-Results-Count"] == "5"
    link = first.headers["link"]
    assert 'rel="next"' in link and "offset=2" in link
    last = client.get(T, params={**query, "limit": "2", "offset": "4"})
    assert len(last.json()) == 1
    assert 'rel="next"' not in last.headers["link"] and 'rel="prev"' in last.headers["link"]


def test_the_language_filter_applies_to_history(client: TestClient) -> None:
    """Clauses 4.15 and 5.7.3.3: `lang` turns a LanguageProperty's instances into Properties
    in the chosen language, as `GET /entities` does (it was ignored)."""
    sign = {
        "id": "urn:ngsi-ld:Sign:1",
        "type": "Sign",
        "label": [
            {
                "type": "LanguageProperty",
                "languageMap": {"en": "Exit", "ko": "출구"},
                "observedAt": "2026-11-01T00:00:00Z",
            },
            {
                "type": "LanguageProperty",
                "languageMap": {"en": "Closed", "ko": "폐쇄"},
                "observedAt": "2026-11-01T01:00:00Z",
            },
        ],
    }
    assert client.post(T, json=sign).status_code == 201
    normalized = client.get(f"{T}/urn:ngsi-ld:Sign:1", params={"lang": "ko"}).json()["label"]
    assert [(i["type"], i["value"], i["lang"]) for i in normalized] == [
        ("Property", "출구", "ko"),
        ("Property", "폐쇄", "ko"),
    ]
    simplified = client.get(
        f"{T}/urn:ngsi-ld:Sign:1", params={"lang": "en", "format": "temporalValues"}
    ).json()["label"]
    assert simplified == {
        "type": "Property",
        "values": [["Exit", "2026-11-01T00:00:00Z"], ["Closed", "2026-11-01T01:00:00Z"]],
    }
    whole = client.get(f"{T}/urn:ngsi-ld:Sign:1").json()["label"]
    assert whole[0]["languageMap"] == {"en": "Exit", "ko": "출구"}


def test_the_deviation_of_one_reading_is_the_same_number_on_both_stores(
    client: TestClient,
) -> None:
    """SQLite answered 0 and PostgreSQL 0.0: a client typing its columns saw two types."""
    _rooms(client, 1)
    params = {
        "attrs": "temp",
        "options": "aggregatedValues",
        "aggrMethods": "stddev",
        "aggrPeriodDuration": "PT1H",
        "timerel": "between",
        "timeAt": "2026-11-01T00:00:00Z",
        "endTimeAt": "2026-11-01T01:00:00Z",
    }
    for period in ("PT1H", "PT30M"):  # from the hourly rollups, and from the instances
        got = client.get(f"{T}/urn:ngsi-ld:Room:0", params={**params, "aggrPeriodDuration": period})
        assert got.status_code == 200, got.text
        assert '"stddev":[[0.0,' in got.text.replace(" ", ""), period


def test_expand_values_applies_to_a_temporal_query_as_to_entities(client: TestClient) -> None:
    """Clause 4.9: `expandValues=sex` expands `Male` in `q` against the @context before it is
    compared with the VocabProperty's expanded value. The temporal query took the parameter
    and ignored it: the FIWARE Short-Term-History tutorial's query found no animal."""
    context = {"sex": "https://schema.org/gender", "Male": "https://schema.org/Male"}
    for n, sex in ((1, "Male"), (2, "Female")):
        animal = {
            "id": f"urn:ngsi-ld:Animal:pig{n}",
            "type": "Animal",
            "sex": {"type": "VocabProperty", "vocab": sex},
            "heartRate": {"type": "Property", "value": 61, "observedAt": "2026-11-01T00:00:00Z"},
            "@context": [context, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"],
        }
        created = client.post(E, json=animal, headers={"Content-Type": "application/ld+json"})
        assert created.status_code == 201, created.text
    headers = link_to(client, context)
    window = {
        "type": "Animal",
        "timeproperty": "modifiedAt",
        "timerel": "after",
        "timeAt": "2000-01-01T00:00:00Z",
    }

    def ids(path: str, params: dict[str, str]) -> list[str]:
        # GET /entities takes no temporal parameters (Table 6.4.3.2-1): a 400 since http-14
        given = {**window, **params} if path == T else {"type": "Animal", **params}
        response = client.get(path, params=given, headers=headers)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()]

    expanded = {"q": "sex==Male", "expandValues": "sex"}
    assert ids(E, expanded) == ["urn:ngsi-ld:Animal:pig1"]
    assert ids(T, expanded) == ["urn:ngsi-ld:Animal:pig1"]
    assert ids(T, {"q": "sex!=Male", "expandValues": "sex"}) == ["urn:ngsi-ld:Animal:pig2"]
    assert ids(T, {"q": "sex==Male"}) == []  # not expanded: the text "Male" is no IRI held
