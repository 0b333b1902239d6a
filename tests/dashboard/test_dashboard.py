"""The web dashboard on each store: what a city operator sees of the tenant's data, in Korean
and English, and the errors a bad link gets."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.dashboard.html import Node, parse

V1 = "/ngsi-ld/v1"
SDM_CONTEXT = {"ParkingSpot": "https://smartdatamodels.org/dataModel.Parking/ParkingSpot"}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def alert(n: int, issued: str, severity: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Alert:{n}",
        "type": "Alert",
        "category": {"type": "Property", "value": "health"},
        "subCategory": {"type": "Property", "value": "heartAttack"},
        "severity": {"type": "Property", "value": severity},
        "description": {"type": "Property", "value": f"Cardiac event {n}"},
        "dateIssued": {"type": "Property", "value": issued},
        "alertSource": {"type": "Relationship", "object": f"urn:ngsi-ld:Vehicle:car-{n}"},
        "location": point(128.60 + n / 100, 35.87),
    }


def create(client: TestClient, entity: dict[str, Any], tenant: str = "") -> None:
    headers = {"NGSILD-Tenant": tenant} if tenant else {}
    if "@context" in entity:
        headers["Content-Type"] = "application/ld+json"
    answer = client.post(f"{V1}/entities", json=entity, headers=headers)
    assert answer.status_code == 201, answer.text


def seed(client: TestClient) -> None:
    for n in range(3):
        create(
            client,
            {
                "id": f"urn:ngsi-ld:ParkingSpot:jung-{n}",
                "type": "ParkingSpot",
                "status": {"type": "Property", "value": "free" if n else "occupied"},
                "location": point(128.59 + n / 1000, 35.86 + n / 1000),
                "@context": [
                    SDM_CONTEXT,
                    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
                ],
            },
        )
    create(
        client,
        {
            "id": "urn:ngsi-ld:Device:counter-1",
            "type": "Device",
            "name": {
                "type": "LanguageProperty",
                "languageMap": {"ko": "중구 교통량 검지기", "en": "Jung-gu traffic counter"},
            },
            "batteryLevel": {"type": "Property", "value": 0.8, "unitCode": "P1"},
            "location": point(128.61, 35.87),
        },
    )
    create(client, {"id": "urn:ngsi-ld:Building:no-place", "type": "Building"})
    create(client, alert(1, "2026-12-05T08:00:00Z", "high"))
    create(client, alert(2, "2026-12-05T09:30:00Z", "critical"))


def page(client: TestClient, query: str = "", **headers: str) -> Node:
    answer = client.get(f"/dashboard{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    return parse(answer.text)


def section(doc: Node, heading: str) -> Node:
    return next(s for s in doc.iter("section") if s.attrs.get("aria-labelledby") == heading)


def markers(doc: Node) -> list[Node]:
    svg = next(s for s in doc.iter("svg") if s.attrs.get("role") == "img")
    return [n for n in svg.iter() if n.tag in ("circle", "rect", "polygon")][1:]  # [0]: backdrop


def test_the_page_shows_types_alerts_and_located_entities(client: TestClient) -> None:
    seed(client)
    doc = page(client, "?lang=en")
    assert doc.first("html").attrs["lang"] == "en"
    overview = section(doc, "overview-heading").first("table").rows()
    assert ["ParkingSpot", "3", "2"] in overview
    assert ["Alert", "2", "7"] in overview
    assert ["Building", "1", "0"] in overview
    assert overview[0][0] == "ParkingSpot"  # the most numerous first
    # newest alert first, its time in Daegu's (09:30Z is 18:30 KST), severity as a word
    alerts = section(doc, "alerts-heading").first("table").rows()
    assert [row[0] for row in alerts] == ["2026-12-05 18:30:00 KST", "2026-12-05 17:00:00 KST"]
    assert alerts[0][1:4] == ["critical", "health / heart attack", "Cardiac event 2"]
    assert alerts[0][4] == "urn:ngsi-ld:Vehicle:car-2"
    # the map: every located entity (3 spots, the device, 2 alerts), not the building
    assert len(markers(doc)) == 6
    places = section(doc, "map-heading").first("table").rows()
    assert len(places) == 6
    device = next(row for row in places if row[1] == "Device")
    assert device[0] == "Jung-gu traffic counter"
    assert device[2:4] == ["35.87000", "128.61000"]
    assert device[4] == "batteryLevel: 0.8 %"  # P1, UN/CEFACT's percent
    spot = next(row for row in places if row[0] == "jung-0")
    assert spot[1] == "ParkingSpot" and spot[4] == "status: occupied"


def test_korean_by_default_and_by_accept_language(client: TestClient) -> None:
    seed(client)
    for doc in (page(client), page(client, **{"Accept-Language": "en;q=0.5, ko-KR"})):
        assert doc.first("html").attrs["lang"] == "ko"
        assert doc.first("h1").text == "달구 도시 현황판"
        places = section(doc, "map-heading").first("table").rows()
        assert "중구 교통량 검지기" in [row[0] for row in places]
        assert section(doc, "alerts-heading").first("table").rows()[0][1] == "위급"
    english = page(client, **{"Accept-Language": "en-US,en;q=0.9,ko;q=0.8"})
    assert english.first("html").attrs["lang"] == "en"
    # ?lang= wins over the header
    assert page(client, "?lang=en", **{"Accept-Language": "ko"}).first("html").attrs["lang"] == "en"
    answer = client.get("/dashboard?lang=en")
    assert answer.headers["content-language"] == "en"
    assert "Accept-Language" in answer.headers["vary"]


def test_the_map_shows_one_type_when_asked(client: TestClient) -> None:
    seed(client)
    by_iri = page(client, "?lang=en&type=" + SDM_CONTEXT["ParkingSpot"])
    assert len(markers(by_iri)) == 3
    legend_list = next(ul for ul in by_iri.iter("ul") if ul.attrs.get("class") == "legend")
    legend = [li.text for li in legend_list.iter("li")]
    assert legend == ["ParkingSpot (3)"]
    # a core-context term is expanded as the API would
    assert len(markers(page(client, "?lang=en&type=Device"))) == 1
    # the overview links to the same filter, and the select shows it chosen
    link = next(a for a in section(by_iri, "overview-heading").iter("a") if a.text == "ParkingSpot")
    assert link.attrs.get("aria-current") == "true"
    chosen = [o for o in by_iri.iter("option") if "selected" in o.attrs]
    assert [o.text for o in chosen] == ["ParkingSpot"]
    # a type nobody has: an empty map, not an error
    assert "No entity has a location." in page(client, "?lang=en&type=Nothing").text


def test_each_tenant_sees_its_own_city(client: TestClient) -> None:
    seed(client)
    bench = {"id": "urn:ngsi-ld:Bench:1", "type": "Bench", "location": point(128.5, 35.8)}
    create(client, bench, "suseong")
    other = page(client, "?lang=en&tenant=suseong")
    assert section(other, "overview-heading").first("table").rows() == [["Bench", "1", "1"]]
    assert len(markers(other)) == 1
    assert "There are no alerts." in section(other, "alerts-heading").text
    assert "suseong" in other.first("title").text
    # links keep the tenant
    english = next(a for a in other.iter("a") if a.attrs.get("hreflang") == "ko")
    assert "tenant=suseong" in english.attrs["href"]
    default = page(client, "?lang=en")
    assert "Bench" not in section(default, "overview-heading").text


def test_an_empty_tenant(client: TestClient) -> None:
    doc = page(client, "?lang=en&tenant=empty")
    assert "There are no entities yet." in doc.text
    assert "There are no alerts." in doc.text
    assert "No entity has a location." in doc.text
    assert not [s for s in doc.iter("svg") if s.attrs.get("role") == "img"]


def test_the_alerts_section_alone_shows_a_new_alert_first(client: TestClient) -> None:
    seed(client)
    create(client, alert(3, "2026-12-05T23:59:00Z", "medium"))
    answer = client.get("/dashboard/alerts?lang=ko")
    assert answer.status_code == 200
    rows = parse(answer.text).first("table").rows()
    assert rows[0][0] == "2026-12-06 08:59:00 KST"
    assert rows[0][1] == "보통"
    assert len(rows) == 3


def test_text_from_the_data_is_escaped(client: TestClient) -> None:
    create(
        client,
        {
            "id": "urn:ngsi-ld:Device:evil",
            "type": "Device",
            "name": {"type": "Property", "value": "<script>alert(1)</script>"},
            "location": point(128.6, 35.8),
        },
    )
    answer = client.get("/dashboard?lang=en")
    assert "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    scripts = list(parse(answer.text).iter("script"))
    assert scripts and all(s.attrs.get("src") and not s.children for s in scripts)
    assert "script-src 'self'" in answer.headers["content-security-policy"]


def test_bad_parameters_are_a_problem_not_a_crash(client: TestClient) -> None:
    for query in ("?tenant=two%20words", "?type=not%20a%20type", "?type=" + "x" * 2000):
        answer = client.get(f"/dashboard{query}")
        assert answer.status_code == 400, query
        assert answer.json()["type"].endswith("BadRequestData")
    assert client.get("/dashboard/alerts?tenant=%3Cx%3E").status_code == 400
    # a language the dashboard does not speak is Korean, the city's
    assert page(client, "?lang=fr").first("html").attrs["lang"] == "ko"


def test_the_stylesheet_and_script_are_served(client: TestClient) -> None:
    css = client.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = client.get("/dashboard/static/dashboard.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert client.get("/dashboard/static/nothing.css").status_code == 404


def test_alerts_without_a_date_time_come_after_every_dated_one(client: TestClient) -> None:
    seed(client)
    for n, value in ((3, "yesterday"), (4, 1796600000), (5, "2026-13-45T99:00:00Z")):
        create(client, {**alert(n, "", "low"), "dateIssued": {"type": "Property", "value": value}})
    create(client, alert(6, "2026-12-05T10:00:00+09:00", "medium"))  # 01:00Z, the oldest
    rows = section(page(client, "?lang=en"), "alerts-heading").first("table").rows()
    issued = [row[0] for row in rows]
    assert issued[:3] == [
        "2026-12-05 18:30:00 KST",
        "2026-12-05 17:00:00 KST",
        "2026-12-05 10:00:00 KST",
    ]
    assert sorted(issued[3:]) == sorted(["yesterday", "1796600000", "2026-13-45T99:00:00Z"])
    assert "(newest first, 6 of 6)" in section(page(client, "?lang=en"), "alerts-heading").text


def test_twenty_bad_dates_do_not_hide_the_real_alerts(client: TestClient) -> None:
    for n in range(20):
        bad = {**alert(100 + n, "", "low"), "dateIssued": {"type": "Property", "value": "9999"}}
        create(client, bad)
    create(client, alert(1, "2026-12-05T08:00:00Z", "high"))
    rows = section(page(client, "?lang=en"), "alerts-heading").first("table").rows()
    assert len(rows) == 20 and rows[0][0] == "2026-12-05 17:00:00 KST"


def test_an_alert_source_given_as_a_property_is_shown(client: TestClient) -> None:
    by_text = {**alert(1, "2026-12-05T08:00:00Z", "high")}
    by_text["alertSource"] = {"type": "Property", "value": "cam-1"}
    create(client, by_text)
    create(client, alert(2, "2026-12-05T09:00:00Z", "high"))
    rows = section(page(client, "?lang=en"), "alerts-heading").first("table").rows()
    assert [row[4] for row in rows] == ["urn:ngsi-ld:Vehicle:car-2", "cam-1"]


def test_the_icon_is_served(client: TestClient) -> None:
    icon = client.get("/dashboard/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


def test_the_footer_sends_citizens_to_pages_and_says_which_links_are_data(
    client: TestClient,
) -> None:
    """An outside test: "Open data" went to the CKAN API's JSON, not to the portal's pages,
    and the links to JSON did not say so."""
    links = {
        a.attrs["href"]: a.text
        for a in page(client, "?lang=ko&tenant=ops").first("footer").iter("a")
    }
    assert links["/opendata?tenant=ops"] == "공공데이터 포털 (영어)"
    assert client.get("/opendata?tenant=ops", headers={"Accept": "text/html"}).status_code == 200
    assert links["/health"].endswith("(JSON)") and links["/fhir/metadata"].endswith("JSON)")


def test_alert_times_are_machine_readable_and_empty_cells_say_none(client: TestClient) -> None:
    """An outside test: an alert's time was plain text, and an alert without a category or a
    source left its cells blank where the page says "none" elsewhere."""
    seed(client)
    create(
        client,
        {
            "id": "urn:ngsi-ld:Alert:bare",
            "type": "Alert",
            "dateIssued": {"type": "Property", "value": "2026-12-05T10:00:00Z"},
        },
    )
    alerts = page(client, "?lang=ko").by_id("alerts")
    assert alerts is not None
    rows = [r for r in alerts.iter("tr") if "data-key" in r.attrs]
    bare = next(r for r in rows if r.attrs["data-key"] == "urn:ngsi-ld:Alert:bare")
    when = bare.first("time")
    assert when.attrs["datetime"] == "2026-12-05T10:00:00Z"
    assert when.text == "2026-12-05 19:00:00 KST"
    cells = [c.text for c in bare.iter("td")]
    assert cells[1:4] == ["없음", "없음", "없음"]  # category, description, source
    assert not any("data-say" in c.attrs for c in list(bare.iter("td"))[1:3])  # not announced


def test_the_title_says_which_type_the_map_shows(client: TestClient) -> None:
    # an outside test: the same <title> with and without ?type= (WCAG 2.4.2 asks it to
    # describe the page; the map of one type is another view)
    seed(client)
    assert page(client, "?lang=en").first("title").text == "Dalgu city dashboard"
    shown = page(client, "?lang=ko&type=Device").first("title").text
    assert shown == "지도: Device · 달구 도시 현황판"
