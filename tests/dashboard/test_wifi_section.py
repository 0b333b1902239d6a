"""The dashboard's Wi-Fi table: zones named in the reader's language, the darkest first, and
bounded like the other tables."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.dashboard.test_dashboard import V1, page, point, section


def zone(slug: str, name: Any = None) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:WifiPointOfInterest:{slug}",
        "type": "WifiPointOfInterest",
        "location": point(128.6, 35.87),
    }
    if name is not None:
        entity["name"] = name
    return entity


def unit(n: int, slug: str, state: str = "up") -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:AccessPoint:{slug}-{n}",
        "type": "AccessPoint",
        "apState": {"type": "Property", "value": state},
        "refPointOfInterest": {
            "type": "Relationship",
            "object": f"urn:ngsi-ld:WifiPointOfInterest:{slug}",
        },
    }


def upsert(client: TestClient, entities: list[dict[str, Any]]) -> None:
    answer = client.post(f"{V1}/entityOperations/upsert", json=entities)
    assert answer.status_code in (201, 204), answer.text


def test_a_zone_named_in_two_languages_is_named_in_the_readers(client: TestClient) -> None:
    names = {"type": "LanguageProperty", "languageMap": {"ko": "동성로", "en": "Dongseong-ro"}}
    upsert(client, [zone("lp", names), unit(1, "lp")])
    for lang, expected in (("en", "Dongseong-ro"), ("ko", "동성로")):
        doc = page(client, f"?lang={lang}")
        wifi = section(doc, "wifi-heading").first("table").rows()
        assert wifi[0][0] == expected
        # as the map's table names it
        places = section(doc, "map-heading").first("table").rows()
        assert [row[0] for row in places if row[1] == "WifiPointOfInterest"] == [expected]


def test_the_wifi_table_is_bounded_and_lists_outages_first(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dalgu.dashboard import page as page_module

    monkeypatch.setattr(page_module, "WIFI_LISTED", 3)
    entities = []
    for n in range(6):
        entities += [zone(f"z{n}", {"type": "Property", "value": f"Zone {n}"}), unit(1, f"z{n}")]
    entities.append(unit(2, "z4", "down"))  # Zone 4 partly down
    entities.append({**unit(1, "z5", "down")})  # Zone 5 dark
    upsert(client, entities)
    doc = page(client, "?lang=en")
    table = section(doc, "wifi-heading").first("table")
    assert [row[0] for row in table.rows()] == ["Zone 5", "Zone 4", "Zone 0"]
    assert table.first("caption").text == (
        "Wi-Fi zones (6, 0 clients connected); the first 3 of 6, outages first"
    )
    monkeypatch.setattr(page_module, "WIFI_LISTED", 100)
    table = section(page(client, "?lang=en"), "wifi-heading").first("table")
    assert len(table.rows()) == 6 and "first" not in table.first("caption").text
