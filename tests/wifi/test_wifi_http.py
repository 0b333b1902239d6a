"""Wi-Fi zones on each store: access points and zones written through the NGSI-LD API (with
the Smart Data Models context, or none), their state at /wifi/zones and /wifi/coverage, and
the sweep writing zone status so that a subscription hears of an outage."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from dalgu.wifi import vocabulary as v
from tests.receiver import Receiver

V1 = "/ngsi-ld/v1"
SDM_CONTEXT = {
    term: v.SDM + term
    for term in (
        "AccessPoint",
        "WifiPointOfInterest",
        "apState",
        "clientsConnected",
        "refPointOfInterest",
        "wifiStatus",
    )
}
LINK = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"


def eventually(fetch: Callable[[], Any], done: Callable[[Any], bool], within: float = 10) -> Any:
    """What `fetch` gives once `done` holds for it, tried every 0.1 s for `within` s."""
    deadline = time.monotonic() + within
    while True:
        found = fetch()
        if done(found):
            return found
        assert time.monotonic() < deadline, found
        time.sleep(0.1)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def post(client: TestClient, entity: dict[str, Any], tenant: str = "") -> None:
    headers = {
        "Content-Type": "application/ld+json" if "@context" in entity else "application/json"
    }
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    answer = client.post(f"{V1}/entities", json=entity, headers=headers)
    assert answer.status_code == 201, answer.text


def access_point(n: int, zone: str, ago: float, *, sdm: bool, clients: int = 12) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:AccessPoint:{n}",
        "type": "AccessPoint",
        "apState": {"type": "Property", "value": "up"},
        "clientsConnected": {
            "type": "Property",
            "value": clients,
            "observedAt": iso(datetime.now(UTC) - timedelta(seconds=ago)),
        },
        "refPointOfInterest": {"type": "Relationship", "object": zone},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [128.59 + n / 10000, 35.87]},
        },
    }
    if sdm:
        entity["@context"] = [SDM_CONTEXT, LINK]
    return entity


def zone(slug: str, *, sdm: bool) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:WifiPointOfInterest:{slug}",
        "type": "WifiPointOfInterest",
        "name": {"type": "Property", "value": slug.title()},
    }
    if sdm:
        entity["@context"] = [SDM_CONTEXT, LINK]
    return entity


def city(client: TestClient, tenant: str = "") -> None:
    """Plaza (data model's context): two units up, one silent for ten minutes; Park (no
    context): one unit up; Square: no units."""
    plaza, park = "urn:ngsi-ld:WifiPointOfInterest:plaza", "urn:ngsi-ld:WifiPointOfInterest:park"
    post(client, zone("plaza", sdm=True), tenant)
    post(client, zone("park", sdm=False), tenant)
    post(client, zone("square", sdm=True), tenant)
    post(client, access_point(1, plaza, 20, sdm=True, clients=10), tenant)
    post(client, access_point(2, plaza, 40, sdm=True, clients=30), tenant)
    post(client, access_point(3, plaza, 600, sdm=True, clients=50), tenant)
    post(client, access_point(4, park, 5, sdm=False, clients=7), tenant)


def test_zones_report_status_load_and_units_down(client: TestClient) -> None:
    city(client)
    answer = client.get("/wifi/zones")
    assert answer.status_code == 200
    body = answer.json()
    zones = {z["name"]: z for z in body["zones"]}
    assert zones["Plaza"]["wifiStatus"] == "workingPartially"
    assert (zones["Plaza"]["accessPointsUp"], zones["Plaza"]["accessPointsTotal"]) == (2, 3)
    assert zones["Plaza"]["clientsConnected"] == 40  # the silent unit's 50 do not count
    assert zones["Plaza"]["load"] == 0.4  # 40 of 2 x 50 (the default capacity)
    assert zones["Plaza"]["accessPointsDown"] == ["urn:ngsi-ld:AccessPoint:3"]
    assert zones["Park"]["wifiStatus"] == "working"
    assert zones["Square"]["wifiStatus"] == "noService"
    assert body["summary"] == {"workingPartially": 1, "working": 1, "noService": 1}
    # reading writes nothing
    plain = client.get(f"{V1}/entities/urn:ngsi-ld:WifiPointOfInterest:park").json()
    assert "wifiStatus" not in plain


def test_coverage_is_geojson_of_the_units_up(client: TestClient) -> None:
    city(client)
    answer = client.get("/wifi/coverage")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    features = answer.json()["features"]
    areas = {f["properties"]["name"]: f for f in features if f["properties"]["kind"] == "coverage"}
    assert set(areas) == {"Plaza", "Park", "Square"}  # docs/wifi.md: one feature per zone
    assert areas["Plaza"]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert areas["Square"]["geometry"] is None  # no units, no location: nothing to draw
    assert areas["Square"]["properties"]["wifiStatus"] == "noService"
    units = [f for f in features if f["properties"]["kind"] == "accessPoint"]
    assert len(units) == 4


def test_each_tenant_has_its_own_wifi(client: TestClient) -> None:
    city(client, "suseong")
    assert client.get("/wifi/zones").json()["zones"] == []
    by_header = client.get("/wifi/zones", headers={"NGSILD-Tenant": "suseong"}).json()
    by_query = client.get("/wifi/zones?tenant=suseong").json()
    assert len(by_header["zones"]) == len(by_query["zones"]) == 3
    bad = client.get("/wifi/zones?tenant=no%20way")
    assert bad.status_code == 400 and bad.json()["type"].endswith("BadRequestData")


def test_the_sweep_writes_zone_status_and_a_subscription_hears_an_outage(
    settings: Settings,
) -> None:
    receiver = Receiver()
    configured = settings.model_copy(update={"wifi_interval": 0.2})
    try:
        with TestClient(build_app(configured)) as client:
            subscription = {
                "type": "Subscription",
                "entities": [{"type": "WifiPointOfInterest"}],
                "q": 'wifiStatus=="totalFailure"',
                "notification": {"endpoint": {"uri": receiver.url, "accept": "application/json"}},
                "@context": [SDM_CONTEXT, LINK],
            }
            answer = client.post(
                f"{V1}/subscriptions",
                json=subscription,
                headers={"Content-Type": "application/ld+json"},
            )
            assert answer.status_code == 201, answer.text
            city(client)
            headers = {"Link": f'<{LINK}>; rel="http://www.w3.org/ns/json-ld#context"'}
            plaza_url = f"{V1}/entities/urn:ngsi-ld:WifiPointOfInterest:plaza"
            plaza = eventually(  # the monitor sweeps every 0.2 s
                lambda: client.get(plaza_url, headers=headers).json(),
                # a sweep after every unit was written (one may run between two posts)
                lambda found: found.get("accessPointsTotal", {}).get("value") == 3,
            )
            assert plaza[v.SDM + "wifiStatus"]["value"] == "workingPartially"
            assert plaza[v.SDM + "clientsConnected"]["value"] == 40
            # the park's zone, in its own (default) vocabulary, once a sweep saw its unit
            eventually(
                lambda: client.get(f"{V1}/entities/urn:ngsi-ld:WifiPointOfInterest:park").json(),
                lambda found: found.get("wifiStatus", {}).get("value") == "working",
            )
            silent = client.get(f"{V1}/entities/urn:ngsi-ld:AccessPoint:3").json()
            assert silent["reachable"]["value"] is False
            # the plaza's two other units go down: a total failure, notified
            for n in (1, 2):
                fragment = {
                    "apState": {"type": "Property", "value": "down"},
                    "@context": [SDM_CONTEXT, LINK],
                }
                done = client.patch(
                    f"{V1}/entities/urn:ngsi-ld:AccessPoint:{n}/attrs",
                    json=fragment,
                    headers={"Content-Type": "application/ld+json"},
                )
                assert done.status_code == 204, done.text
            _, body = receiver.next(timeout=15)
            (notified,) = body["data"]
            assert notified["id"] == "urn:ngsi-ld:WifiPointOfInterest:plaza"
            # in the subscription's context
            assert notified["wifiStatus"]["value"] == "totalFailure"
            # a unit that reports again is reachable again
            fresh = {
                "clientsConnected": {
                    "type": "Property",
                    "value": 3,
                    "observedAt": iso(datetime.now(UTC)),
                },
                "@context": [SDM_CONTEXT, LINK],
            }
            client.patch(
                f"{V1}/entities/urn:ngsi-ld:AccessPoint:3/attrs",
                json=fresh,
                headers={"Content-Type": "application/ld+json"},
            )
            eventually(
                lambda: client.get(f"{V1}/entities/urn:ngsi-ld:AccessPoint:3").json(),
                lambda found: found["reachable"]["value"] is True,
            )
    finally:
        receiver.close()


def test_a_second_sweep_writes_nothing(client: TestClient) -> None:
    city(client)
    wifi = client.app.state.dalgu.wifi  # type: ignore[attr-defined]
    first = client.portal.call(wifi.sweep, "")  # type: ignore[union-attr]
    assert len(first.written) == 4 + 3  # every unit's reachable, every zone's status
    again = client.portal.call(wifi.sweep, "")  # type: ignore[union-attr]
    assert again.written == ()


def test_access_points_feed_through_the_device_gateway(client: TestClient) -> None:
    """An IoT Agent config group of access points (FIWARE's provisioning API), measures over
    HTTP JSON: the gateway's entities are read like any other."""
    post(client, zone("station", sdm=False), "acme")
    group = {
        "apikey": "wifi-key",
        "resource": "/iot/json",
        "entity_type": "AccessPoint",
        "attributes": [
            {"object_id": "c", "name": "clientsConnected", "type": "Integer"},
            {"object_id": "s", "name": "apState", "type": "Text"},
        ],
        "static_attributes": [
            {
                "name": "refPointOfInterest",
                "type": "Relationship",
                "value": "urn:ngsi-ld:WifiPointOfInterest:station",
            }
        ],
    }
    headers = {"fiware-service": "acme", "fiware-servicepath": "/"}
    made = client.post("/iot/services", json={"services": [group]}, headers=headers)
    assert made.status_code == 201, made.text
    for unit, clients in (("ap-1", 12), ("ap-2", 8)):
        sent = client.post(
            f"/iot/json?k=wifi-key&i={unit}", content=f'{{"c": {clients}, "s": "up"}}'
        )
        assert sent.status_code == 200, sent.text
    (station,) = client.get("/wifi/zones?tenant=acme").json()["zones"]
    assert (station["wifiStatus"], station["accessPointsUp"], station["clientsConnected"]) == (
        "working",
        2,
        20,
    )
    client.post("/iot/json?k=wifi-key&i=ap-1", content=b'{"s": "down"}')
    (station,) = client.get("/wifi/zones?tenant=acme").json()["zones"]
    assert (station["wifiStatus"], station["accessPointsDown"]) == (
        "workingPartially",
        ["urn:ngsi-ld:AccessPoint:ap-1"],
    )


MILLISECONDS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def test_times_are_iso_8601_with_milliseconds_and_the_silence_whole(settings: Settings) -> None:
    import re

    configured = settings.model_copy(update={"wifi_silence": 40.0, "wifi_interval": 0})
    with TestClient(build_app(configured)) as client:
        city(client)
        # a report time of whole seconds, and one of microseconds
        post(client, access_point(5, "urn:ngsi-ld:WifiPointOfInterest:park", 0, sdm=False))
        answer = client.get("/wifi/zones")
        assert '"silenceSeconds":40,' in answer.text  # not 40.0
        found = answer.json()
        assert re.fullmatch(MILLISECONDS, found["at"]), found["at"]
        reports = [p["lastReport"] for p in found["accessPoints"]]
        assert reports and all(re.fullmatch(MILLISECONDS, r) for r in reports), reports
        wifi = client.app.state.dalgu.wifi  # type: ignore[attr-defined]
        client.portal.call(wifi.sweep, "")  # type: ignore[union-attr]
        park = client.get(f"{V1}/entities/urn:ngsi-ld:WifiPointOfInterest:park").json()
        assert re.fullmatch(MILLISECONDS, park["wifiStatus"]["observedAt"]), park


def test_a_zone_named_in_two_languages_is_named_in_the_readers(client: TestClient) -> None:
    named = {
        "id": "urn:ngsi-ld:WifiPointOfInterest:lp",
        "type": "WifiPointOfInterest",
        "name": {"type": "LanguageProperty", "languageMap": {"ko": "동성로", "en": "Dongseong-ro"}},
    }
    post(client, named)
    post(client, access_point(1, "urn:ngsi-ld:WifiPointOfInterest:lp", 5, sdm=False))

    def name(query: str = "", **headers: str) -> str:
        found = client.get(f"/wifi/zones{query}", headers=headers).json()
        return str(found["zones"][0]["name"])

    assert name("?lang=en") == "Dongseong-ro"
    assert name("?lang=ko") == "동성로"
    assert name(**{"Accept-Language": "en-GB,en;q=0.9"}) == "Dongseong-ro"
    assert name("?lang=en", **{"Accept-Language": "ko"}) == "Dongseong-ro"
    assert name() == "동성로"  # no untagged name: the first given
    areas = client.get("/wifi/coverage?lang=en").json()["features"]
    assert [f["properties"]["name"] for f in areas if f["properties"]["kind"] == "coverage"] == [
        "Dongseong-ro"
    ]


@pytest.mark.parametrize("path", ["/wifi/zones", "/wifi/coverage"])
def test_an_answer_named_by_accept_language_says_it_varies_by_it(
    client: TestClient, path: str
) -> None:
    """RFC 9110, 12.5.5: "An origin server SHOULD send a Vary header field when its algorithm
    for selecting a representation varies based on aspects of the request message other than
    the method and target URI": a shared cache gave the Korean names to an English app."""
    answer = client.get(path, headers={"Accept-Language": "en"})
    assert answer.status_code == 200
    assert "accept-language" in answer.headers["vary"].lower()


def test_unusable_values_are_left_out_said_and_logged_once(client: TestClient, caplog: Any) -> None:
    import logging

    plaza = "urn:ngsi-ld:WifiPointOfInterest:plaza"
    post(client, zone("plaza", sdm=False))
    post(client, access_point(1, plaza, 5, sdm=False, clients=10))
    odd = access_point(2, plaza, 5, sdm=False)
    odd["apState"]["value"] = "foo"
    odd["clientsConnected"]["value"] = 10**9
    post(client, odd)
    torn = access_point(3, plaza, 5, sdm=False)
    torn["refPointOfInterest"]["object"] = [plaza, "urn:ngsi-ld:WifiPointOfInterest:park"]
    post(client, torn)
    found = client.get("/wifi/zones").json()
    (only,) = found["zones"]
    assert (only["wifiStatus"], only["accessPointsUp"], only["clientsConnected"]) == (
        "workingPartially",
        1,
        10,
    )
    assert only["load"] == 0.2  # 10 of 50, not a billion
    assert found["withoutZone"] == ["urn:ngsi-ld:AccessPoint:3"]
    problems = {p["id"]: p["problems"] for p in found["accessPoints"]}
    assert problems["urn:ngsi-ld:AccessPoint:1"] == []
    assert len(problems["urn:ngsi-ld:AccessPoint:2"]) == 2
    assert "names 2 zones" in problems["urn:ngsi-ld:AccessPoint:3"][0]
    wifi = client.app.state.dalgu.wifi  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="dalgu.wifi.service"):
        client.portal.call(wifi.sweep, "")  # type: ignore[union-attr]
        client.portal.call(wifi.sweep, "")  # type: ignore[union-attr]
    warned = [r.getMessage() for r in caplog.records if r.name == "dalgu.wifi.service"]
    assert len(warned) == 3, warned  # each problem once, not at every sweep
    assert any("AccessPoint:2" in w and 'apState "foo"' in w for w in warned)


@pytest.mark.parametrize("watched", [True, False])
def test_the_documented_outage_subscriptions_fire_once_per_outage(
    settings: Settings, watched: bool
) -> None:
    """docs/wifi.md, the README and lesson 8: with `watchedAttributes`, a zone going dark and a
    unit falling silent are each notified once; without, a dark zone is notified again when
    its unit count changes, and a silent unit when its own report brings it back."""
    import queue

    receiver = Receiver()
    configured = settings.model_copy(update={"wifi_interval": 0, "wifi_silence": 60.0})
    plaza, park = "urn:ngsi-ld:WifiPointOfInterest:plaza", "urn:ngsi-ld:WifiPointOfInterest:park"
    try:
        with TestClient(build_app(configured)) as client:
            wifi = client.app.state.dalgu.wifi  # type: ignore[attr-defined]

            def sweep() -> None:
                client.portal.call(wifi.sweep, "")  # type: ignore[union-attr]

            def subscribe(kind: str, q: str, attribute: str) -> str:
                subscription: dict[str, Any] = {
                    "type": "Subscription",
                    "entities": [{"type": kind}],
                    "q": q,
                    "notification": {"endpoint": {"uri": receiver.url}},
                }
                if watched:
                    subscription["watchedAttributes"] = [attribute]
                answer = client.post(f"{V1}/subscriptions", json=subscription)
                assert answer.status_code == 201, answer.text
                return str(answer.headers["location"]).rsplit("/", 1)[-1]

            def patch(n: int, fragment: dict[str, Any]) -> None:
                url = f"{V1}/entities/urn:ngsi-ld:AccessPoint:{n}/attrs"
                assert client.patch(url, json=fragment).status_code == 204

            dark = subscribe("WifiPointOfInterest", 'wifiStatus=="totalFailure"', "wifiStatus")
            silent = subscribe("AccessPoint", "reachable==false", "reachable")
            post(client, zone("plaza", sdm=False))
            post(client, zone("park", sdm=False))
            for n in (1, 2):
                post(client, access_point(n, plaza, 5, sdm=False))
            post(client, access_point(4, park, 5, sdm=False))
            post(client, access_point(5, park, 5, sdm=False))  # the park stays partly lit
            sweep()  # all working, all reachable
            # the plaza goes dark, and stays dark while a third (down) unit is added
            for n in (1, 2):
                patch(n, {"apState": {"type": "Property", "value": "down"}})
            sweep()
            down = access_point(3, plaza, 5, sdm=False)
            down["apState"]["value"] = "down"
            post(client, down)
            sweep()
            # the park's unit falls silent, then reports again
            patch(
                4,
                {
                    "clientsConnected": {
                        "type": "Property",
                        "value": 1,
                        "observedAt": iso(datetime.now(UTC) - timedelta(seconds=600)),
                    }
                },
            )
            sweep()
            patch(
                4,
                {
                    "clientsConnected": {
                        "type": "Property",
                        "value": 2,
                        "observedAt": iso(datetime.now(UTC)),
                    }
                },
            )
            sweep()
            notified: list[tuple[str, str]] = []
            while True:
                try:
                    _, body = receiver.next(timeout=3)
                except queue.Empty:
                    break
                sub = str(body["subscriptionId"]).rsplit("/", 1)[-1]
                notified += [(sub, item["id"]) for item in body["data"]]
    finally:
        receiver.close()
    to_dark = [e for s, e in notified if dark.endswith(s) or s.endswith(dark)]
    to_silent = [e for s, e in notified if silent.endswith(s) or s.endswith(silent)]
    if watched:
        assert to_dark == [plaza] and to_silent == ["urn:ngsi-ld:AccessPoint:4"], notified
    else:  # the pitfalls the docs warn of
        assert to_dark == [plaza, plaza], notified
        assert to_silent == ["urn:ngsi-ld:AccessPoint:4"] * 2, notified


def _placed_zone(slug: str, lon: float, lat: float) -> dict[str, Any]:
    entity = zone(slug, sdm=False)
    entity["location"] = {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [lon, lat]},
    }
    return entity


def test_a_phone_asks_for_the_zones_near_it_or_one_zone(client: TestClient) -> None:
    """An outside test: a citizen's app had to download every zone and unit (143 KB for 150
    zones, 685 KB of coverage) to show the few near it, `?lat=&lon=` silently gave all, and
    `/wifi/zones/<id>` was a 404. Distances are along the Earth, across 180° too."""
    fiji = "urn:ngsi-ld:WifiPointOfInterest:fiji"
    post(client, _placed_zone("fiji", 179.9999, -17.0))
    post(client, _placed_zone("daegu", 128.6, 35.87))
    post(client, zone("unplaced", sdm=False))
    near_unit = access_point(1, "urn:ngsi-ld:WifiPointOfInterest:unplaced", 5, sdm=False)
    post(client, near_unit)  # at 128.5901, 35.87: ~900 m west of daegu's zone
    post(client, access_point(2, fiji, 5, sdm=False))  # ~880 m from daegu's zone, in fiji

    def ids(path: str, **params: str) -> list[str]:
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        return sorted(z["id"].rsplit(":", 1)[-1] for z in answer.json()["zones"])

    assert ids("/wifi/zones", lon="-179.9999", lat="-17.0", radius="100") == ["fiji"]
    assert ids("/wifi/zones", lon="128.6", lat="35.87", radius="500") == ["daegu"]
    assert ids("/wifi/zones", lon="128.6", lat="35.87") == ["daegu", "fiji", "unplaced"]
    assert ids("/wifi/zones", id=f"{fiji},urn:ngsi-ld:WifiPointOfInterest:daegu") == [
        "daegu",
        "fiji",
    ]
    one = client.get(f"/wifi/zones/{fiji}").json()
    assert [z["id"] for z in one["zones"]] == [fiji]
    assert [p["id"] for p in one["accessPoints"]] == ["urn:ngsi-ld:AccessPoint:2"]
    assert client.get("/wifi/zones/urn:ngsi-ld:WifiPointOfInterest:none").status_code == 404
    areas = client.get("/wifi/coverage", params={"id": fiji}).json()["features"]
    assert {f["id"] for f in areas} == {fiji, "urn:ngsi-ld:AccessPoint:2"}
    for bad in ({"lon": "128.6"}, {"lon": "x", "lat": "1"}, {"lon": "1", "lat": "91"},
                {"radius": "5"}, {"lon": "1", "lat": "1", "radius": "-1"}):  # fmt: skip
        assert client.get("/wifi/zones", params=bad).status_code == 400, bad
