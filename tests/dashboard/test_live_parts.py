"""Every section of the dashboard refreshes itself, not only the alerts (an outside test: an
operator watching the page saw new entities, devices and map markers only after a reload)."""

from __future__ import annotations

from importlib import resources
from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from tests.dashboard.html import Node, parse
from tests.dashboard.test_dashboard import create, page, point, seed

PARTS = ("overview", "map")


def _part(client: TestClient, url: str) -> Node:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    return parse(answer.text)


def test_each_section_names_where_it_is_read_again_and_that_answers_it(
    client: TestClient,
) -> None:
    seed(client)
    doc = page(client, "?lang=en")
    for part in PARTS:
        box = doc.by_id(part)
        assert box is not None, part
        url = box.attrs["data-src"]
        assert urlsplit(url).path == f"/dashboard/part/{part}"
        assert parse_qs(urlsplit(url).query)["lang"] == ["en"]
        # the part alone is what the page holds in that box
        assert _part(client, url).text == box.text
    alerts = doc.by_id("alerts")
    assert alerts is not None and alerts.attrs["data-src"].startswith("/dashboard/alerts")


def test_a_new_entity_reaches_the_refreshed_overview_and_map(client: TestClient) -> None:
    seed(client)
    doc = page(client, "?lang=en")
    overview_url = doc.by_id("overview").attrs["data-src"]  # type: ignore[union-attr]
    map_url = doc.by_id("map").attrs["data-src"]  # type: ignore[union-attr]
    before = _part(client, overview_url).first("table").rows()
    assert not any(row[0] == "StreetLight" for row in before)
    create(
        client,
        {"id": "urn:ngsi-ld:StreetLight:1", "type": "StreetLight", "location": point(128.6, 35.87)},
    )
    after = _part(client, overview_url).first("table").rows()
    assert ["StreetLight", "1", "1"] in after
    places = _part(client, map_url).first("table").rows()
    assert "StreetLight" in [row[1] for row in places]


def test_a_part_keeps_the_tenant_and_the_maps_type(client: TestClient) -> None:
    seed(client)
    create(
        client,
        {"id": "urn:ngsi-ld:StreetLight:9", "type": "StreetLight", "location": point(128.6, 35.8)},
        tenant="other",
    )
    mine = _part(client, "/dashboard/part/overview?lang=en").first("table").rows()
    assert "StreetLight" not in [row[0] for row in mine]
    theirs = _part(client, "/dashboard/part/overview?lang=en&tenant=other").first("table").rows()
    assert [row[0] for row in theirs] == ["StreetLight"]
    doc = page(client, "?lang=en&type=Device")
    map_url = doc.by_id("map").attrs["data-src"]  # type: ignore[union-attr]
    assert {row[1] for row in _part(client, map_url).first("table").rows()} == {"Device"}


def test_an_unknown_part_or_bad_tenant_is_a_problem(client: TestClient) -> None:
    missing = client.get("/dashboard/part/page")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("ResourceNotFound")
    assert client.get("/dashboard/part/overview?tenant=%3Cx%3E").status_code == 400


def test_the_script_refreshes_every_part_and_announces_only_alerts() -> None:
    script = resources.files("dalgu.dashboard").joinpath("static/dashboard.js").read_text()
    assert 'querySelectorAll("[data-src]")' in script
    assert "if (box === alerts) { announce(box); }" in script


def test_every_refreshed_row_is_keyed_by_what_it_shows(client: TestClient) -> None:
    """The script matches rows by `data-key` and changes only what changed, so the link that
    has keyboard focus is not replaced by a refresh (an outside test: focus fell to the page's
    start every 15 s while the reader was in the map table)."""
    seed(client)
    doc = page(client, "?lang=en")
    for part, first_cell in (("overview", "title"), ("alerts", "title"), ("map", "title")):
        box = doc.by_id(part)
        assert box is not None, part
        rows = list(box.first("tbody").iter("tr"))
        keys = [row.attrs["data-key"] for row in rows]
        assert len(keys) == len(set(keys)) == len(rows), part
        # the key is the entity (or type) the row's link names
        assert keys == [row.first("a").attrs[first_cell] for row in rows], part


def test_the_script_keeps_focus_and_does_not_replace_a_section_wholesale() -> None:
    script = resources.files("dalgu.dashboard").joinpath("static/dashboard.js").read_text()
    assert "box.innerHTML" not in script  # a section is changed node by node
    assert 'getAttribute("data-key")' in script
    assert "focused.focus({ preventScroll: true })" in script


def test_a_failed_refresh_is_said_and_as_of_follows_the_last_good_one(client: TestClient) -> None:
    """An outside test: with the server gone the page kept old alerts and still said it
    refreshed every 15 s, and the banner's "As of" stayed at the page's load."""
    seed(client)
    for lang, words in (("en", "Updates have failed since {time}"), ("ko", "{time}부터")):
        status = page(client, f"?lang={lang}").by_id("live-status")
        assert status is not None and status.attrs["role"] == "status"
        assert status.attrs["data-failed"].startswith(words)
    as_of = page(client, "?lang=en").first("header").first("time")
    assert as_of.attrs["datetime"].endswith("Z") and as_of.text.endswith(" KST")
    script = resources.files("dalgu.dashboard").joinpath("static/dashboard.js").read_text()
    assert 'status.getAttribute("data-failed")' in script
    assert 'document.querySelector("header time")' in script
    assert 'asOf.textContent = clock(moment) + " KST"' in script


def test_a_type_that_came_after_the_page_loaded_is_in_the_refreshed_type_filter(
    client: TestClient,
) -> None:
    """An outside test: a new type reached the counts, the legend and the table at the next
    refresh, but not the map's type filter until a reload."""
    seed(client)
    doc = page(client, "?lang=en")
    box = doc.by_id("map")
    assert box is not None and box.by_id("type-select") is not None  # refreshed with the map
    create(
        client,
        {"id": "urn:ngsi-ld:Streetlight:1", "type": "Streetlight", "location": point(128.6, 35.8)},
    )
    select = _part(client, box.attrs["data-src"]).by_id("type-select")
    assert select is not None
    options = {o.text: o.attrs for o in select.iter("option")}
    assert "Streetlight" in options and options["Streetlight"]["data-key"].endswith("Streetlight")
    assert "selected" in options["All types"]  # still the page's choice


def test_a_pause_lasts_for_the_tab_not_only_for_the_page() -> None:
    """An outside test: after "Pause updates", a reload or the other language started the
    updates again, so a reader who needs a still page paused it on every load."""
    script = resources.files("dalgu.dashboard").joinpath("static/dashboard.js").read_text()
    assert "window.sessionStorage.getItem(remembered)" in script  # read at load
    assert 'var paused = stored() === "1";' in script
    assert "remember();" in script.split('toggle.addEventListener("click"')[1]
    assert "localStorage" not in script  # not for ever: a new tab has the alerts live
