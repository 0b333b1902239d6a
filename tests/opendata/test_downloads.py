"""Downloads read back as their formats say (csv, GeoJSON, Parquet), on both stores: every
matching entity once, across pages; withheld attributes and exact coordinates never in them."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import orjson
import pyarrow.parquet as pq
from starlette.testclient import TestClient

from dalgu.opendata.policy import snap
from tests.opendata.conftest import (
    OWNER,
    STATIONS,
    TOKEN,
    air_dataset,
    publish_in_process,
    station,
)

ACTION = "/opendata/api/3/action"


def _seed_stations(client: TestClient) -> None:
    entities = [station("jung-1", 41), station("jung-2", 12.5), station("suseong-1", 77)]
    response = client.post("/ngsi-ld/v1/entityOperations/upsert", json=entities)
    assert response.status_code == 201, response.text


def _download(client: TestClient, name: str, extension: str) -> bytes:
    response = client.get(f"/opendata/dataset/{name}/download/{name}.{extension}")
    assert response.status_code == 200, response.text
    return response.content


def _publish_hourly(client: TestClient, methods: list[str]) -> None:
    """The stations' pm10 published as hourly aggregates since 2026-12-01 10:00."""
    publish_in_process(
        client,
        attributes=["pm10"],
        aggregate_period="PT1H",
        aggregate_methods=methods,
        aggregate_since="2026-12-01T10:00:00Z",
    )


def _exact_coordinates() -> list[str]:
    return [repr(c) for lon_lat in STATIONS.values() for c in lon_lat]


def test_csv_lists_every_entity_across_pages_with_snapped_locations(
    portal_client: TestClient,
) -> None:
    _seed_stations(portal_client)
    publish_in_process(portal_client)
    body = _download(portal_client, "daegu-air", "csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [r["stationName"] for r in rows] == ["jung-1", "jung-2", "suseong-1"]
    assert [float(r["pm10"]) for r in rows] == [41, 12.5, 77]
    for row in rows:
        lon, lat = STATIONS[row["stationName"]]
        assert (float(row["longitude"]), float(row["latitude"])) == snap(lon, lat, 500)
    assert OWNER.encode() not in body and b"owner" not in body
    for exact in _exact_coordinates():
        assert exact.encode() not in body


def test_geojson_is_a_feature_collection_of_snapped_points(portal_client: TestClient) -> None:
    _seed_stations(portal_client)
    publish_in_process(portal_client)
    body = _download(portal_client, "daegu-air", "geojson")
    collection = orjson.loads(body)
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert len(features) == 3
    for feature in features:
        name = feature["properties"]["stationName"]
        assert feature["geometry"] == {
            "type": "Point",
            "coordinates": list(snap(*STATIONS[name], 500)),
        }
        assert set(feature["properties"]) == {"id", "pm10", "stationName"}
        assert feature["id"] == feature["properties"]["id"]  # RFC 7946 §3.2
    assert OWNER.encode() not in body
    for exact in _exact_coordinates():
        assert exact.encode() not in body


def test_parquet_reads_back_with_typed_columns(portal_client: TestClient) -> None:
    _seed_stations(portal_client)
    publish_in_process(portal_client)
    table = pq.read_table(io.BytesIO(_download(portal_client, "daegu-air", "parquet")))
    assert table.column_names == ["id", "pm10", "stationName", "longitude", "latitude"]
    assert str(table.schema.field("pm10").type) == "double"
    rows = table.to_pylist()
    assert [r["pm10"] for r in rows] == [41.0, 12.5, 77.0]
    exact = {c for lon_lat in STATIONS.values() for c in lon_lat}
    assert not {r["longitude"] for r in rows} & exact and not {r["latitude"] for r in rows} & exact
    assert (
        pq.ParquetFile(io.BytesIO(_download(portal_client, "daegu-air", "parquet"))).num_row_groups
        == 2
    )


def test_a_coarser_grid_puts_nearby_stations_on_one_point(portal_client: TestClient) -> None:
    _seed_stations(portal_client)
    publish_in_process(portal_client, grid_metres=5000)
    features = orjson.loads(_download(portal_client, "daegu-air", "geojson"))["features"]
    points = {tuple(f["geometry"]["coordinates"]) for f in features[:2]}  # jung-1, jung-2
    assert len(points) == 1


def test_the_dataset_q_keeps_only_matching_entities(portal_client: TestClient) -> None:
    _seed_stations(portal_client)
    publish_in_process(portal_client, entity_q="pm10>40")
    rows = list(csv.DictReader(io.StringIO(_download(portal_client, "daegu-air", "csv").decode())))
    assert [r["stationName"] for r in rows] == ["jung-1", "suseong-1"]


def test_an_empty_dataset_downloads_as_empty_files(portal_client: TestClient) -> None:
    publish_in_process(portal_client)
    assert _download(portal_client, "daegu-air", "csv").decode().strip() == (
        "id,pm10,stationName,longitude,latitude"
    )
    assert orjson.loads(_download(portal_client, "daegu-air", "geojson"))["features"] == []
    table = pq.read_table(io.BytesIO(_download(portal_client, "daegu-air", "parquet")))
    assert table.num_rows == 0 and "pm10" in table.column_names


def test_an_empty_parquet_download_keeps_the_declared_number_columns(
    portal_client: TestClient,
) -> None:
    publish_in_process(portal_client)
    publish_in_process(
        portal_client, "daegu-air-hourly", aggregate_period="PT1H",
        aggregate_methods=["avg", "totalCount", "max"],
    )  # fmt: skip
    plain = pq.read_table(io.BytesIO(_download(portal_client, "daegu-air", "parquet")))
    assert plain.num_rows == 0
    assert {str(plain.schema.field(c).type) for c in ("longitude", "latitude")} == {"double"}
    hourly = pq.read_table(io.BytesIO(_download(portal_client, "daegu-air-hourly", "parquet")))
    assert hourly.num_rows == 0
    types = {f.name: str(f.type) for f in hourly.schema}
    assert types["pm10_avg"] == types["longitude"] == "double"
    assert types["pm10_totalCount"] == "int64"
    assert types["start"] == types["end"] == "timestamp[us, tz=UTC]"
    assert types["pm10_max"] == types["id"] == "string"


def test_an_aggregated_dataset_publishes_hourly_aggregates_not_readings(
    portal_client: TestClient,
) -> None:
    readings = [("10:05", 10), ("10:35", 20), ("11:10", 30), ("11:50", 50)]
    history = {
        **station("jung-1", 0),
        "pm10": [
            {"type": "Property", "value": v, "observedAt": f"2026-12-01T{t}:00Z"}
            for t, v in readings
        ],
    }
    response = portal_client.post("/ngsi-ld/v1/temporal/entities", json=history)
    assert response.status_code in (201, 204), response.text
    _publish_hourly(portal_client, ["avg", "max"])
    body = _download(portal_client, "daegu-air", "csv").decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert list(rows[0]) == ["id", "start", "end", "pm10_avg", "pm10_max", "longitude", "latitude"]
    assert [(r["start"], float(r["pm10_avg"]), float(r["pm10_max"])) for r in rows] == [
        ("2026-12-01T10:00:00Z", 15.0, 20.0),
        ("2026-12-01T11:00:00Z", 40.0, 50.0),
    ]
    assert (float(rows[0]["longitude"]), float(rows[0]["latitude"])) == snap(
        *STATIONS["jung-1"], 500
    )
    assert OWNER not in body
    features = orjson.loads(_download(portal_client, "daegu-air", "geojson"))["features"]
    assert [f["id"] for f in features] == [
        "urn:ngsi-ld:AirQualityObserved:jung-1#2026-12-01T10:00:00Z",
        "urn:ngsi-ld:AirQualityObserved:jung-1#2026-12-01T11:00:00Z",
    ]


def test_an_unknown_dataset_or_format_is_not_found(portal_client: TestClient) -> None:
    publish_in_process(portal_client)
    missing = portal_client.get("/opendata/dataset/nothing/download/nothing.csv")
    assert missing.status_code == 404
    assert missing.json()["error"]["__type"] == "Not Found Error"
    assert (
        portal_client.get("/opendata/dataset/daegu-air/download/daegu-air.xlsx").status_code == 404
    )


def test_published_download_urls_are_by_id_and_survive_a_rename(
    portal_client: TestClient,
) -> None:
    """Harvesters keep the URLs they read: the published ones are by the dataset's id, and
    the URLs by a name it had before still download it."""
    _seed_stations(portal_client)
    package = publish_in_process(portal_client)
    urls = [r["url"] for r in package["resources"][:3]]
    assert urls[0] == f"http://testserver/opendata/dataset/{package['id']}/download/daegu-air.csv"
    headers = {"Authorization": TOKEN}
    for new_name in ("daegu-air-pm10", "daegu-air-2026"):
        patch = {"id": package["id"], "name": new_name}
        response = portal_client.post(f"{ACTION}/package_patch", json=patch, headers=headers)
        assert response.status_code == 200, response.text
    renamed = response.json()["result"]
    assert [r["url"] for r in renamed["resources"][:3]] == [
        u.replace("daegu-air.", "daegu-air-2026.") for u in urls
    ]
    for url in urls:  # made before the renames: by id, the file named after its old name
        assert portal_client.get(url).status_code == 200
    for old in ("daegu-air", "daegu-air-pm10", "daegu-air-2026"):
        ids = _ids(portal_client, old)
        assert len(ids) == 3, old
    publish_in_process(portal_client, "daegu-air", entity_q="pm10>50")  # takes the old name
    assert len(_ids(portal_client, "daegu-air")) == 1  # the new dataset's, not the old one's


def test_a_vocab_property_is_published_as_its_term_as_the_api_shows_it(
    portal_client: TestClient,
) -> None:
    entity = {
        **station("jung-1", 41),
        "stationName": {"type": "VocabProperty", "vocab": "offStreet"},
    }
    response = portal_client.post("/ngsi-ld/v1/entityOperations/upsert", json=[entity])
    assert response.status_code == 201, response.text
    shown = portal_client.get(f"/ngsi-ld/v1/entities/{entity['id']}").json()
    assert shown["stationName"]["vocab"] == "offStreet"
    publish_in_process(portal_client)
    rows = list(csv.DictReader(io.StringIO(_download(portal_client, "daegu-air", "csv").decode())))
    assert [r["stationName"] for r in rows] == ["offStreet"]


def test_observed_at_publishes_when_each_value_was_observed(portal_client: TestClient) -> None:
    """A status published without a time cannot tell how old it is."""
    entity = station("jung-1", 41, at="2026-12-07T20:00:00+09:00")
    response = portal_client.post("/ngsi-ld/v1/entityOperations/upsert", json=[entity])
    assert response.status_code == 201, response.text
    package = publish_in_process(portal_client, observed_at=True)
    assert package["observed_at"] is True
    columns = ["id", "pm10", "pm10_observedAt", "stationName", "stationName_observedAt"]
    assert package["columns"] == [*columns, "longitude", "latitude"]
    (row,) = csv.DictReader(io.StringIO(_download(portal_client, "daegu-air", "csv").decode()))
    assert row["pm10_observedAt"] == "2026-12-07T20:00:00+09:00"
    assert row["stationName_observedAt"] == ""  # written without one
    table = pq.read_table(io.BytesIO(_download(portal_client, "daegu-air", "parquet")))
    assert str(table.schema.field("pm10_observedAt").type) == "timestamp[us, tz=UTC]"
    assert table.column("pm10_observedAt")[0].as_py().isoformat() == "2026-12-07T11:00:00+00:00"


def test_observed_at_is_refused_for_aggregates_and_clashing_attributes(
    portal_client: TestClient,
) -> None:
    for fields in (
        {"observed_at": True, "aggregate_period": "PT1H", "aggregate_methods": ["avg"]},
        {"observed_at": True, "attributes": ["pm10", "pm10_observedAt"]},
    ):
        response = portal_client.post(
            f"{ACTION}/package_create",
            json={**air_dataset(), **fields},
            headers={"Authorization": TOKEN},
        )
        assert response.status_code == 409, fields
        assert {"observed_at", "attributes"} & set(response.json()["error"])


def _ids(client: TestClient, name: str) -> list[str]:
    body = _download(client, name, "csv").decode()
    return [row["id"] for row in csv.DictReader(io.StringIO(body))]


def test_pseudonymised_ids_are_stable_in_a_dataset_and_unlinkable_across(
    portal_client: TestClient,
) -> None:
    _seed_stations(portal_client)
    publish_in_process(portal_client, attributes=["pm10"], pseudonymise_ids=True)
    publish_in_process(portal_client, "daegu-air-2", attributes=["pm10"], pseudonymise_ids=True)
    first = _ids(portal_client, "daegu-air")
    assert len(set(first)) == 3
    assert all(i.startswith("urn:dalgu:opendata:pseudonym:") for i in first)
    for extension in ("csv", "geojson", "parquet"):
        assert b"AirQualityObserved" not in _download(portal_client, "daegu-air", extension)
    patch = {"id": "daegu-air", "title": "Renamed"}
    headers = {"Authorization": TOKEN}
    response = portal_client.post(f"{ACTION}/package_patch", json=patch, headers=headers)
    assert response.status_code == 200
    assert _ids(portal_client, "daegu-air") == first
    assert not set(_ids(portal_client, "daegu-air-2")) & set(first)


def test_the_pseudonym_key_is_never_shown(portal_client: TestClient) -> None:
    publish_in_process(portal_client, pseudonymise_ids=True)
    shown = portal_client.get(f"{ACTION}/package_show", params={"id": "daegu-air"})
    assert shown.json()["result"]["pseudonymise_ids"] is True
    catalog = portal_client.get("/opendata/catalog.jsonld").text
    for text in (shown.text, catalog):
        assert not re.search(r"[0-9a-f]{64}", text)
        assert "id_key" not in text


def _stations(count: int) -> list[dict[str, object]]:
    """`count` stations named s0, s1, ... (ids in that order), at jung-1's position."""
    return [
        {
            **station("jung-1", 10 + i),
            "id": f"urn:ngsi-ld:AirQualityObserved:s{i}",
            "stationName": {"type": "Property", "value": f"s{i}"},
        }
        for i in range(count)
    ]


def test_an_entity_deleted_during_a_download_takes_no_other_out_of_it(
    portal_client: TestClient,
) -> None:
    """Each page starts after the last id read: deleting an entity of a page already read
    (or any entity) does not shift the next pages, as an offset would (s2 was missed)."""
    response = portal_client.post("/ngsi-ld/v1/entityOperations/upsert", json=_stations(5))
    assert response.status_code == 201, response.text
    publish_in_process(portal_client)
    state = portal_client.app.state.dalgu  # type: ignore[attr-defined]

    async def read_deleting_s0_after_the_first_page() -> list[list[str]]:
        dataset = await state.opendata.show("", "daegu-air")
        pages: list[list[str]] = []
        async for page in state.opendata.rows("", dataset):
            pages.append([row["stationName"] for row in page])
            if len(pages) == 1:
                await state.service.delete("", "urn:ngsi-ld:AirQualityObserved:s0")
        return pages

    pages = portal_client.portal.call(read_deleting_s0_after_the_first_page)  # type: ignore[union-attr]
    assert pages == [["s0", "s1"], ["s2", "s3"], ["s4"]]


def test_an_aggregated_dataset_reads_every_entity_once_across_pages(
    portal_client: TestClient,
) -> None:
    for entity in _stations(5):
        history = {
            **entity,
            "pm10": [{"type": "Property", "value": 1.0, "observedAt": "2026-12-01T10:05:00Z"}],
        }
        response = portal_client.post("/ngsi-ld/v1/temporal/entities", json=history)
        assert response.status_code in (201, 204), response.text
    _publish_hourly(portal_client, ["max"])
    rows = list(csv.DictReader(io.StringIO(_download(portal_client, "daegu-air", "csv").decode())))
    assert len(rows) == 5 and len({r["id"] for r in rows}) == 5


def test_pseudonymised_rows_come_in_the_order_of_their_pseudonyms_not_of_the_ids(
    portal_client: TestClient,
) -> None:
    """Rows in id order would tell each pseudonym's id to anyone who knows the ids."""
    response = portal_client.post("/ngsi-ld/v1/entityOperations/upsert", json=_stations(12))
    assert response.status_code == 201, response.text
    publish_in_process(portal_client, pseudonymise_ids=True)
    rows = list(csv.DictReader(io.StringIO(_download(portal_client, "daegu-air", "csv").decode())))
    ids = [row["id"] for row in rows]
    assert len(set(ids)) == 12 and ids == sorted(ids)
    by_name = [row["stationName"] for row in rows]
    assert by_name != [f"s{i}" for i in range(12)] and sorted(by_name) != by_name


def test_the_ngsi_ld_resource_of_a_dataset_with_a_context_works_as_published(
    portal_client: TestClient,
) -> None:
    """An outside test: the demo's "NGSI-LD API" resource URL answered `[]` when followed as
    published (by GDAL, CKAN's preview, a link checker), since its names are a context's and
    such clients send no `Link` header. Its names are now the context's IRIs, which the
    broker reads with or without that context (ETSI GS CIM 009, 5.5.7: terms expand by the
    request's context, IRIs stand)."""
    sdm = "https://smartdatamodels.org/dataModel.Parking/"
    context = {"@context": {"ParkingSpot": sdm + "ParkingSpot", "status": sdm + "status"}}
    hosted = portal_client.post("/ngsi-ld/v1/jsonldContexts", json=context)
    assert hosted.status_code == 201, hosted.text
    url = portal_client.get(hosted.headers["location"], params={"details": "true"}).json()["URL"]
    spot = {
        "id": "urn:ngsi-ld:ParkingSpot:1",
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": "free"},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [128.6, 35]}},
        "@context": [url, "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"],
    }  # fmt: skip
    created = portal_client.post(
        "/ngsi-ld/v1/entities", json=spot, headers={"Content-Type": "application/ld+json"}
    )
    assert created.status_code == 201, created.text
    package = publish_in_process(
        portal_client,
        "parking",
        entity_type="ParkingSpot",
        attributes=["status"],
        entity_q='status=="free"',
        withheld_attributes=[],
        context=url,
    )
    ngsi = next(r for r in package["resources"] if r["format"] == "NGSI-LD")
    found = portal_client.get(ngsi["url"].removeprefix("http://testserver")).json()
    assert [e["id"] for e in found] == ["urn:ngsi-ld:ParkingSpot:1"]
    assert parse_qs(urlsplit(ngsi["url"]).query)["type"] == [sdm + "ParkingSpot"]
