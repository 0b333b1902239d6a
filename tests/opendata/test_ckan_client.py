"""CKAN's own Python client (ckanapi) reads and publishes datasets through a real Dalgu server
on loopback, on both stores: the actions answer as CKAN's do, errors included."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from ckanapi import NotAuthorized, NotFound, RemoteCKAN, ValidationError

from tests.opendata.conftest import TOKEN, air_dataset, remote, seed, station


def test_package_create_then_show_by_name_and_id_returns_it_with_resources(
    publisher: RemoteCKAN, reader: RemoteCKAN, tenant: str
) -> None:
    created = publisher.action.package_create(**air_dataset())
    by_name = reader.action.package_show(id="daegu-air")
    by_id = reader.action.package_show(id=created["id"])
    assert by_name == by_id
    assert by_name["title"] == "Daegu air quality"
    assert [t["name"] for t in by_name["tags"]] == ["air", "environment"]
    assert by_name["organization"]["name"] == "daegu-city"
    assert by_name["license_id"] == "KOGL-Type1"
    assert by_name["withheld_attributes"] == ["owner"]
    assert by_name["metadata_created"] <= by_name["metadata_modified"]
    formats = [r["format"] for r in by_name["resources"]]
    assert formats == ["CSV", "GeoJSON", "Parquet", "NGSI-LD"]
    assert by_name["resources"][0]["url"].endswith(
        f"/opendata/dataset/{created['id']}/download/daegu-air.csv?tenant={tenant}"
    )


def test_ngsi_ld_resource_queries_the_type_with_published_attributes_only(
    publisher: RemoteCKAN, tenant: str
) -> None:
    created = publisher.action.package_create(**air_dataset(entity_q="pm10>20"))
    ngsi = next(r for r in created["resources"] if r["format"] == "NGSI-LD")
    url = urlsplit(ngsi["url"])
    params = parse_qs(url.query)
    assert url.path == "/ngsi-ld/v1/entities"
    assert params == {
        "type": ["AirQualityObserved"],
        "attrs": ["pm10,stationName,location"],  # GeoJSON answers have their geometry
        "q": ["pm10>20"],
        "limit": [
            "1000"
        ],  # no geometryProperty: a 400 without a GeoJSON Accept  # GIS tools read one page
    }
    assert f"NGSILD-Tenant: {tenant}" in ngsi["description"]


def test_package_show_of_an_unknown_dataset_raises_not_found(reader: RemoteCKAN) -> None:
    with pytest.raises(NotFound):
        reader.action.package_show(id="no-such-dataset")


def test_package_create_without_a_token_raises_not_authorized_and_creates_nothing(
    reader: RemoteCKAN,
) -> None:
    with pytest.raises(NotAuthorized):
        reader.action.package_create(**air_dataset())
    assert reader.action.package_list() == []


def test_writes_with_a_wrong_token_raise_not_authorized(
    portal: str, tenant: str, publisher: RemoteCKAN
) -> None:
    publisher.action.package_create(**air_dataset())
    intruder = remote(portal, tenant, "not-" + TOKEN)
    with pytest.raises(NotAuthorized):
        intruder.action.package_patch(id="daegu-air", title="Defaced")
    with pytest.raises(NotAuthorized):
        intruder.action.package_delete(id="daegu-air")
    assert publisher.action.package_show(id="daegu-air")["title"] == "Daegu air quality"


def test_package_create_with_a_taken_name_raises_validation_error_on_name(
    publisher: RemoteCKAN,
) -> None:
    publisher.action.package_create(**air_dataset())
    with pytest.raises(ValidationError) as caught:
        publisher.action.package_create(**air_dataset(title="Another"))
    assert "name" in caught.value.error_dict


def test_package_create_keeps_a_given_id_as_ckan_does(
    publisher: RemoteCKAN, reader: RemoteCKAN, portal: str, tenant: str
) -> None:
    """`ckanapi dump` then `ckanapi load` (a migration, a restore) keeps each dataset's id,
    and so its DCAT IRI."""
    given = "11111111-2222-3333-4444-555555555555"
    created = publisher.action.package_create(**air_dataset(), id=given)
    assert created["id"] == given
    assert reader.action.package_show(id=given)["name"] == "daegu-air"
    iri = f"{portal}/opendata/dataset/{given}?tenant={tenant}"
    assert httpx.get(iri, timeout=10).json()["@id"] == iri
    with pytest.raises(ValidationError) as caught:  # taken
        publisher.action.package_create(**air_dataset("another"), id=given)
    assert "id" in caught.value.error_dict


@pytest.mark.parametrize("given", ["a/b", "x.ttl", "", 5, "-x", "é"])
def test_package_create_refuses_an_id_that_cannot_be_an_iri_segment(
    publisher: RemoteCKAN, given: object
) -> None:
    if given == "":  # no id: one is made
        assert publisher.action.package_create(**air_dataset(), id=given)["id"]
        return
    with pytest.raises(ValidationError) as caught:
        publisher.action.package_create(**air_dataset(), id=given)
    assert "id" in caught.value.error_dict and "name" not in caught.value.error_dict


def test_package_create_with_bad_fields_names_each_of_them(publisher: RemoteCKAN) -> None:
    with pytest.raises(ValidationError) as caught:
        publisher.action.package_create(
            **air_dataset(name="Bad Name!", license_id="mine", grid_metres=0, attributes=[])
        )
    assert {"name", "license_id", "grid_metres", "attributes"} <= set(caught.value.error_dict)


def test_publishing_or_filtering_on_a_withheld_attribute_is_refused(
    publisher: RemoteCKAN,
) -> None:
    with pytest.raises(ValidationError) as published:
        publisher.action.package_create(**air_dataset(attributes=["pm10", "owner"]))
    assert "withheld_attributes" in published.value.error_dict
    with pytest.raises(ValidationError) as filtered:
        publisher.action.package_create(**air_dataset(entity_q='owner=="x"'))
    assert "entity_q" in filtered.value.error_dict


@pytest.mark.parametrize(
    "q",
    [
        'https://uri.etsi.org/ngsi-ld/default-context/owner=="x"',
        'pm10>0|https://uri.etsi.org/ngsi-ld/default-context/owner~="^Kim"',
    ],
)
def test_filtering_on_a_withheld_attribute_by_its_iri_is_refused_at_publish_time(
    publisher: RemoteCKAN, reader: RemoteCKAN, q: str
) -> None:
    with pytest.raises(ValidationError) as filtered:
        publisher.action.package_create(**air_dataset(entity_q=q))
    assert "owner" in str(filtered.value.error_dict["entity_q"])
    assert reader.action.package_list() == []


def test_a_withheld_attribute_named_by_its_iri_is_refused_in_a_q_by_its_short_name(
    publisher: RemoteCKAN,
) -> None:
    withheld = ["https://uri.etsi.org/ngsi-ld/default-context/owner"]
    with pytest.raises(ValidationError) as filtered:
        publisher.action.package_create(
            **air_dataset(withheld_attributes=withheld, entity_q='owner=="x"')
        )
    assert "entity_q" in filtered.value.error_dict


def test_package_list_names_datasets_and_current_list_starts_with_the_last_modified(
    publisher: RemoteCKAN, reader: RemoteCKAN
) -> None:
    publisher.action.package_create(**air_dataset("b-air"))
    publisher.action.package_create(**air_dataset("a-air"))
    publisher.action.package_patch(id="b-air", notes="changed last")
    assert reader.action.package_list() == ["a-air", "b-air"]
    assert reader.action.package_list(limit=1, offset=1) == ["b-air"]
    current = reader.action.current_package_list_with_resources(limit=1)
    assert [p["name"] for p in current] == ["b-air"]
    assert len(current[0]["resources"]) == 4
    after = reader.action.current_package_list_with_resources(limit=5, offset=1)
    assert [p["name"] for p in after] == ["a-air"]
    assert [p["name"] for p in reader.action.current_package_list_with_resources()] == [
        "b-air",
        "a-air",
    ]


def _three_datasets(publisher: RemoteCKAN) -> None:
    publisher.action.package_create(**air_dataset("air-jung", title="Jung air", tags=["air"]))
    publisher.action.package_create(
        **air_dataset("air-suseong", title="Suseong air", tags=["air", "suseong"])
    )
    publisher.action.package_create(
        **air_dataset(
            "parking", title="Parking", tags=["mobility"], owner_org="daegu-transit",
            notes="Free parking spots",
        )
    )  # fmt: skip


def test_package_search_filters_by_tags_and_organization_with_counts_and_facets(
    publisher: RemoteCKAN, reader: RemoteCKAN
) -> None:
    _three_datasets(publisher)
    found = reader.action.package_search(fq="tags:air organization:daegu-city", sort="name desc")
    assert found["count"] == 2
    assert [p["name"] for p in found["results"]] == ["air-suseong", "air-jung"]
    faceted = reader.call_action(
        "package_search", {"q": "*:*", "facet.field": ["tags", "organization"], "rows": 0}
    )
    assert faceted["count"] == 3 and faceted["results"] == []
    assert faceted["facets"]["tags"] == {"air": 2, "suseong": 1, "mobility": 1}
    assert faceted["facets"]["organization"] == {"daegu-city": 2, "daegu-transit": 1}


def test_package_search_as_ckan_s_search_page_asks_matches_every_dataset(
    publisher: RemoteCKAN, reader: RemoteCKAN
) -> None:
    _three_datasets(publisher)
    facets = ["organization", "groups", "tags", "res_format", "license_id"]
    found = reader.call_action(
        "package_search",
        {"fq": "+dataset_type:dataset +state:active capacity:public", "facet.field": facets},
    )
    assert found["count"] == 3
    assert found["facets"]["groups"] == {}
    assert found["search_facets"]["groups"]["items"] == []


def test_package_search_over_get_pages_with_rows_and_start(
    portal: str, tenant: str, publisher: RemoteCKAN
) -> None:
    _three_datasets(publisher)
    getter = remote(portal, tenant)
    getter.get_only = True
    first = getter.call_action("package_search", {"sort": "name asc", "rows": 2, "start": 0})
    rest = getter.call_action("package_search", {"sort": "name asc", "rows": 2, "start": 2})
    assert [p["name"] for p in first["results"]] == ["air-jung", "air-suseong"]
    assert [p["name"] for p in rest["results"]] == ["parking"]
    assert first["count"] == rest["count"] == 3
    free_text = getter.call_action("package_search", {"q": "free parking"})
    assert [p["name"] for p in free_text["results"]] == ["parking"]
    by_format = getter.call_action("package_search", {"fq": 'res_format:"GeoJSON"'})
    assert by_format["count"] == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [({"rows": "many"}, "rows"), ({"sort": "colour asc"}, "sort"), ({"fq": "owner:x"}, "fq")],
)
def test_package_search_with_bad_parameters_raises_validation_error(
    reader: RemoteCKAN, params: dict[str, str], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        reader.call_action("package_search", params)
    assert field in caught.value.error_dict


def test_organizations_tags_licenses_and_resources_are_listed_from_the_datasets(
    publisher: RemoteCKAN, reader: RemoteCKAN
) -> None:
    _three_datasets(publisher)
    assert reader.action.organization_list() == ["daegu-city", "daegu-transit"]
    organizations = reader.action.organization_list(all_fields=True)
    assert [(o["name"], o["package_count"]) for o in organizations] == [
        ("daegu-city", 2),
        ("daegu-transit", 1),
    ]
    transit = reader.action.organization_show(id="daegu-transit", include_datasets=True)
    assert [p["name"] for p in transit["packages"]] == ["parking"]
    with pytest.raises(NotFound):
        reader.action.organization_show(id="nobody")
    assert reader.action.tag_list() == ["air", "mobility", "suseong"]
    assert reader.action.tag_list(query="su") == ["suseong"]
    assert "KOGL-Type1" in [lic["id"] for lic in reader.action.license_list()]
    resource = reader.action.package_show(id="parking")["resources"][2]
    assert reader.action.resource_show(id=resource["id"]) == resource
    with pytest.raises(NotFound):
        reader.action.resource_show(id="00000000-0000-0000-0000-000000000000")


def test_package_update_replaces_and_package_patch_keeps_what_it_is_not_given(
    publisher: RemoteCKAN,
) -> None:
    created = publisher.action.package_create(**air_dataset())
    # a search's results are kept rendered: the next search renders the changed one again
    assert publisher.action.package_search(q="air")["results"][0]["title"] == created["title"]
    assert publisher.action.package_show(id=created["id"])["title"] == created["title"]
    patched = publisher.action.package_patch(id=created["id"], title="Air, patched")
    assert patched["title"] == "Air, patched" and patched["notes"] == created["notes"]
    assert publisher.action.package_search(q="air")["results"][0]["title"] == "Air, patched"
    assert publisher.action.package_show(id=created["id"])["title"] == "Air, patched"
    assert patched["metadata_modified"] > created["metadata_modified"]
    shown = publisher.action.package_show(id="daegu-air")
    shown["notes"] = ""
    shown["tags"] = [{"name": "renamed"}]
    shown["name"] = "daegu-air-2"
    updated = publisher.action.package_update(**shown)  # show, change, update: CKAN's round trip
    assert updated["id"] == created["id"] and updated["name"] == "daegu-air-2"
    assert [t["name"] for t in updated["tags"]] == ["renamed"]
    assert updated["metadata_created"] == created["metadata_created"]
    with pytest.raises(NotFound):
        publisher.action.package_show(id="daegu-air")
    with pytest.raises(NotFound):
        publisher.action.package_update(**air_dataset("never-created"), id="never-created")


def test_package_delete_removes_the_dataset(publisher: RemoteCKAN, reader: RemoteCKAN) -> None:
    publisher.action.package_create(**air_dataset())
    publisher.action.package_delete(id="daegu-air")
    with pytest.raises(NotFound):
        reader.action.package_show(id="daegu-air")
    with pytest.raises(NotFound):
        publisher.action.package_delete(id="daegu-air")
    assert reader.action.package_list() == []


def test_status_show_and_site_read_answer_as_ckan_2_10(reader: RemoteCKAN) -> None:
    assert reader.action.site_read() is True
    assert reader.action.status_show()["ckan_version"].startswith("2.10")


def test_a_dataset_published_with_ckanapi_downloads_de_identified(
    portal: str, tenant: str, publisher: RemoteCKAN
) -> None:
    seed(portal, tenant, [station("jung-1", 41), station("jung-2", 12)])
    created = publisher.action.package_create(**air_dataset())
    csv_url = created["resources"][0]["url"]
    body = httpx.get(csv_url, headers={"NGSILD-Tenant": tenant}, timeout=10).text
    lines = body.strip().splitlines()
    assert lines[0] == "id,pm10,stationName,longitude,latitude"
    assert len(lines) == 3
    assert "Kim Minji" not in body and "128.593712" not in body


def test_datasets_of_one_tenant_are_not_seen_in_another(portal: str, publisher: RemoteCKAN) -> None:
    publisher.action.package_create(**air_dataset())
    other = remote(portal, "another-tenant-of-this-test")
    with pytest.raises(NotFound):
        other.action.package_show(id="daegu-air")


def test_a_ckan_harvester_pages_through_datasets_modified_since_its_last_run(
    portal: str, tenant: str, publisher: RemoteCKAN
) -> None:
    _three_datasets(publisher)
    since = publisher.action.package_show(id="air-suseong")["metadata_modified"]
    harvester = remote(portal, tenant)
    harvester.get_only = True  # ckanext-harvest's CKANHarvester: GET, sort by id, 100 a page
    fq = f"organization:daegu-city OR organization:daegu-transit metadata_modified:[{since}Z TO *]"
    seen, start = [], 0
    while True:
        page = harvester.call_action(
            "package_search", {"fq": fq, "sort": "id asc", "rows": 1, "start": start}
        )["results"]
        if not page:
            break
        seen += page
        start += 1
    assert [p["name"] for p in seen] == sorted(
        ["air-suseong", "parking"],
        key=lambda n: publisher.action.package_show(id=n)["id"],
    )


def test_package_update_by_id_without_a_name_keeps_the_name(publisher: RemoteCKAN) -> None:
    created = publisher.action.package_create(**air_dataset())
    body = {k: v for k, v in air_dataset(title="Renamed").items() if k != "name"}
    updated = publisher.action.package_update(id=created["id"], **body)
    assert updated["name"] == "daegu-air" and updated["title"] == "Renamed"


def _raw_get(portal: str, target: bytes, tenant: str) -> dict[str, Any]:
    """A GET whose request target is sent as these bytes (not percent-encoded), as `curl -g`
    or a URL typed by hand sends it; the CKAN answer's JSON."""
    split = urlsplit(portal)
    with socket.create_connection((split.hostname, split.port), timeout=10) as connection:
        connection.sendall(
            b"GET " + target + b" HTTP/1.1\r\nHost: " + split.netloc.encode()
            + b"\r\nNGSILD-Tenant: " + tenant.encode() + b"\r\nConnection: close\r\n\r\n"
        )  # fmt: skip
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    found: dict[str, Any] = orjson.loads(body)
    return found


def test_words_in_raw_utf8_in_the_query_string_are_read_as_utf8(
    publisher: RemoteCKAN, portal: str, tenant: str
) -> None:
    """CKAN (werkzeug) reads a query string's bytes as UTF-8, percent-encoded or not."""
    publisher.action.package_create(**air_dataset(tags=[{"name": "대기"}]))
    word = "대기".encode()
    action = b"/opendata/api/3/action/"
    searched = _raw_get(portal, action + b"package_search?rows=0&q=" + word, tenant)
    assert searched["result"]["count"] == 1
    tags = _raw_get(portal, action + b"tag_list?query=" + word, tenant)
    assert tags["result"] == ["대기"]


def test_package_search_with_fl_gives_only_those_fields_as_ckan_2_9_does(
    publisher: RemoteCKAN, reader: RemoteCKAN
) -> None:
    created = publisher.action.package_create(**air_dataset())
    found = reader.action.package_search(fl="id,name")
    assert found["results"] == [{"id": created["id"], "name": "daegu-air"}]
    spaced = reader.action.package_search(fl="name title")["results"]
    assert spaced == [{"name": "daegu-air", "title": "Daegu air quality"}]
    assert reader.action.package_search(fl="*")["results"][0]["resources"]


def test_organization_list_sorts_as_ckan_and_refuses_a_sort_it_cannot_make(
    publisher: RemoteCKAN, reader: RemoteCKAN
) -> None:
    """CKAN API, organization_list: "sort (string) – sorting of the search results. Optional.
    Default: "title asc" string of field name and sort-order. The allowed fields are 'name',
    'package_count' and 'title'"; CKAN answers another with a Validation Error ("Cannot sort by
    field"). `package_count` was ignored (name order) and `sort=bogus` a 200."""
    _three_datasets(publisher)  # daegu-city publishes 2, daegu-transit 1
    by_count = reader.action.organization_list(sort="package_count asc")
    assert by_count == ["daegu-transit", "daegu-city"]
    assert reader.action.organization_list(sort="packages desc") == ["daegu-city", "daegu-transit"]
    assert reader.action.organization_list(sort="title desc") == ["daegu-transit", "daegu-city"]
    assert reader.action.organization_list(sort="name") == ["daegu-city", "daegu-transit"]
    for sort in ("bogus", "name sideways", "name asc, title desc"):
        with pytest.raises(ValidationError) as caught:
            reader.action.organization_list(sort=sort)
        assert "sort" in caught.value.error_dict
