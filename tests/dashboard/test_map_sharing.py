"""The map's cap: past `MAP_LIMIT` located entities, every type keeps a fair share of the
markers, and the page says what is left out."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.dashboard import overview
from dalgu.dashboard.overview import Place, Places, fair_shares
from dalgu.dashboard.page import Sections, View, render_part
from tests.dashboard.html import parse
from tests.dashboard.test_dashboard import V1, markers, page, point, section


@pytest.mark.parametrize(
    ("counts", "limit", "expected"),
    [
        ({"P": 3000, "A": 2000, "W": 200, "L": 50}, 1000, {"P": 375, "A": 375, "W": 200, "L": 50}),
        ({"P": 3, "A": 2}, 1000, {"P": 3, "A": 2}),
        ({"a": 10, "b": 10, "c": 10}, 10, {"a": 4, "b": 3, "c": 3}),
        ({"a": 0, "b": 5}, 3, {"a": 0, "b": 3}),
        ({}, 10, {}),
    ],
)
def test_fair_shares_give_each_kind_an_even_part(
    counts: dict[str, int], limit: int, expected: dict[str, int]
) -> None:
    assert fair_shares(counts, limit) == expected
    assert sum(expected.values()) == min(limit, sum(counts.values()))


def located(kind: str, n: int) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:{kind}:{n}", "type": kind, "location": point(128.6 + n / 1e4, 35.8)}


def test_a_numerous_type_leaves_room_for_the_others(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overview, "MAP_LIMIT", 20)
    batch = [located("AccessPoint", n) for n in range(30)]  # first by name
    batch += [located("ParkingSpot", n) for n in range(40)]
    batch += [located("Alert", n) for n in range(3)]
    answer = client.post(f"{V1}/entityOperations/upsert", json=batch)
    assert answer.status_code in (201, 204), answer.text
    doc = page(client, "?lang=en")
    assert len(markers(doc)) == 20
    legend_list = next(ul for ul in doc.iter("ul") if ul.attrs.get("class") == "legend")
    legend = sorted(li.text for li in legend_list.iter("li"))
    assert legend == ["AccessPoint (8 of 30)", "Alert (3)", "ParkingSpot (9 of 40)"]
    caption = section(doc, "map-heading").first("figcaption").text
    assert "20 located entities shown (of 73)." in caption
    assert "shared evenly among the types" in caption
    assert "The table below lists the same places." in caption  # all 20 of them
    # the table's first rows show every type, not the first type alone
    places = section(doc, "map-heading").first("table").rows()
    assert {row[1] for row in places[:3]} == {"AccessPoint", "Alert", "ParkingSpot"}


def test_the_caption_says_when_the_table_lists_fewer_than_the_map(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dalgu.dashboard import page as page_module

    monkeypatch.setattr(page_module, "LISTED", 2)
    batch = [located("Bench", n) for n in range(5)]
    assert client.post(f"{V1}/entityOperations/upsert", json=batch).status_code in (201, 204)
    doc = page(client, "?lang=en")
    caption = section(doc, "map-heading").first("figcaption").text
    assert "The table below lists the first 2 of them." in caption
    assert "shared evenly" not in caption  # nothing left out of the map
    few = page(client, "?lang=en&type=Bench")
    assert len(markers(few)) == 5


def test_the_place_tables_caption_writes_large_numbers_as_the_legend_does() -> None:
    # an outside test: "1,000개 표시 (전체 1,500개)" above "처음 100개 / 전체 1500개"
    spot = Place("urn:ngsi-ld:Spot:1", "Spot", "1", 128.6, 35.87, ())
    places = Places((spot,), 1500, {"Spot": 1500})
    html = render_part(View("ko", "", None), "map", Sections([], places))
    assert parse(html).first("caption").text == "지도의 장소 (처음 1개 / 전체 1,500개)"
