"""A bounded fuzz pass over the edges the NGSI-LD OpenAPI pass (`test_openapi_fuzz.py`) does not
reach: FHIR (resources, JSON Patch, transaction Bundles, search parameters, every role), the
CKAN action API, the IoT Agent's provisioning API and its UltraLight/JSON southbound, the
testbed, Wi-Fi and dashboard reads. Inputs are shaped like the real ones with wrong values in
them (dates that are not dates, references to nothing, numbers out of range, wrong kinds of
JSON), so they get past the first checks. No request may get a 5xx: bad input is a 4xx."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.conftest import NO_GATEWAY_PORTS

IOT = {"fiware-service": "fuzz", "fiware-servicepath": "/"}
ADMIN = {"X-Dalgu-Role": "admin"}
CALLERS: list[dict[str, str]] = [
    ADMIN,
    {},  # no principal: 401 on FHIR
    {"X-Dalgu-Role": "clinician", "X-Dalgu-Principal": "Practitioner/x"},
    {"X-Dalgu-Role": "patient", "X-Dalgu-Principal": "Patient/p1"},
    {
        "X-Dalgu-Role": "emergency",
        "X-Dalgu-Principal": "Practitioner/e",
        "X-Dalgu-Purpose-Of-Use": "BTG",
    },
    {"X-Dalgu-Role": "device", "X-Dalgu-Principal": "Device/w1"},
    {"X-Dalgu-Role": "researcher", "X-Dalgu-Principal": "Organization/r"},
]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = build_app(
        Settings.load(
            sqlite_path=Path(tempfile.mkdtemp()) / "fuzz.db", mqtt_broker="off", **NO_GATEWAY_PORTS
        )
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Kim"}]}
        assert test_client.put("/fhir/Patient/p1", json=patient, headers=ADMIN).status_code in (
            200,
            201,
        )
        group = {"apikey": "k1", "resource": "/iot/d", "entity_type": "Thing"}
        assert test_client.post("/iot/services", json={"services": [group]}, headers=IOT).is_success
        device = {
            "device_id": "d1",
            "entity_name": "urn:ngsi-ld:Thing:d1",
            "entity_type": "Thing",
            "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
            "commands": [{"name": "ping", "type": "command"}],
        }
        assert test_client.post("/iot/devices", json={"devices": [device]}, headers=IOT).is_success
        yield test_client


ODD = [
    "2026-13-01",
    "2026-12-06T25:00:00Z",
    "Patient/p1",
    "Patient/",
    "urn:uuid:x",
    "#x",
    "http://x/Patient/p1",
    "1e999",
    "-0",
    "",
]
_scalar = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(ODD)
)
_KEYS = ["value", "unit", "system", "code", "reference", "display", "text", "family", "given"]
_KEYS += ["coding", "start", "end", "url", "valueString", "id", "div", "status"]
value = st.recursive(
    _scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3)
    ),
    max_leaves=10,
)

RESOURCE_TYPES = ["Patient", "Observation", "Condition", "AllergyIntolerance", "Encounter"]
RESOURCE_TYPES += ["MedicationStatement", "Consent", "Bundle", "Device", "Practitioner", "Xyz"]
FIELDS = ["id", "meta", "status", "code", "subject", "patient", "valueQuantity", "valueString"]
FIELDS += ["effectiveDateTime", "issued", "component", "category", "name", "birthDate", "gender"]
FIELDS += ["identifier", "entry", "type", "scope", "provision", "clinicalStatus", "onsetDateTime"]
FIELDS += ["telecom", "address", "extension", "contained", "text", "period", "policyRule"]
resource = st.builds(
    lambda kind, fields: {"resourceType": kind, **fields},
    st.sampled_from(RESOURCE_TYPES),
    st.dictionaries(st.sampled_from(FIELDS), value, max_size=5),
)
entry = st.builds(
    lambda r, method, url, full: {
        "resource": r,
        "request": {"method": method, "url": url},
        "fullUrl": full,
    },
    resource,
    st.sampled_from(["POST", "PUT", "GET", "DELETE", "PATCH", "X"]),
    st.sampled_from(["Patient", "Patient/p1", "Observation?code=x", "", "Patient/p1/_history/1"]),
    st.sampled_from(["urn:uuid:1", "urn:uuid:2", "", "Patient/p1"]),
)
bundle = st.builds(
    lambda kind, entries: {"resourceType": "Bundle", "type": kind, "entry": entries},
    st.sampled_from(["transaction", "batch", "collection", "x"]),
    st.lists(entry, max_size=3),
)
json_patch = st.lists(
    st.builds(
        lambda op, path, v: {"op": op, "path": path, "value": v},
        st.sampled_from(["add", "replace", "remove", "test", "move", "copy", "x"]),
        st.sampled_from(["/name", "/name/0/family", "/id", "/resourceType", "/x/y", "", "/name/-"]),
        value,
    ),
    max_size=3,
)
SEARCH = ["_id", "_count", "_sort", "_include", "_revinclude", "name", "family", "patient"]
SEARCH += ["subject", "code", "date", "_lastUpdated", "_summary", "_elements", "_format"]
SEARCH += ["identifier", "birthdate", "gender", "_offset", "status", "value-quantity", "_total"]
SEARCH += ["_has:Observation:patient:code", "subject:Patient", "code:text", "name:exact"]
SEARCH += ["date:missing", "_since", "_at"]
SEARCH_VALUES = ["", "x", "1", "-1", "0", "99999999999999999999", "gt2026", "ge2026-12-06"]
SEARCH_VALUES += ["eq2026-13", "Patient/p1", "p1", "http://loinc.org|8867-4", "|x", "x|", "*"]
SEARCH_VALUES += ["lt5.4|http://unitsofmeasure.org|mg", "-name", "Observation:subject", "true"]
SEARCH_VALUES += ["count", "data", "2026-12-06T00:00:00+09:00", "ap1", "sa1e3"]
search = st.dictionaries(st.sampled_from(SEARCH), st.sampled_from(SEARCH_VALUES), max_size=4)

CKAN = ["package_list", "package_show", "package_search", "current_package_list_with_resources"]
CKAN += ["organization_list", "organization_show", "group_list", "tag_list", "resource_show"]
CKAN += ["package_create", "package_update", "package_patch", "package_delete", "resource_create"]
CKAN += ["datastore_search", "datastore_search_sql", "status_show", "help_show", "tag_show"]
CKAN += ["organization_create", "resource_update", "resource_delete", "package_autocomplete"]
CKAN_FIELDS = ["id", "name", "title", "notes", "owner_org", "tags", "resources", "extras", "q"]
CKAN_FIELDS += ["fq", "rows", "start", "sort", "limit", "offset", "filters", "fields", "sql"]
CKAN_FIELDS += ["resource_id", "url", "format", "private", "groups", "include_total", "records"]
ckan_body = st.dictionaries(st.sampled_from(CKAN_FIELDS), value, max_size=5)

DEVICE_FIELDS = ["device_id", "entity_name", "entity_type", "attributes", "commands", "lazy"]
DEVICE_FIELDS += ["static_attributes", "protocol", "transport", "apikey", "timezone", "endpoint"]
DEVICE_FIELDS += ["explicitAttrs", "expressionLanguage", "ngsiVersion", "internal_attributes"]
GROUP_FIELDS = ["apikey", "resource", "entity_type", "attributes", "commands", "lazy", "trust"]
GROUP_FIELDS += ["static_attributes", "cbroker", "explicitAttrs", "entityNameExp", "timestamp"]
GROUP_FIELDS += ["autoprovision"]
device = st.dictionaries(st.sampled_from(DEVICE_FIELDS), value, max_size=6)
group = st.dictionaries(st.sampled_from(GROUP_FIELDS), value, max_size=6)
ultralight = st.text(st.sampled_from(list("t|12.5#x:|=;,@\n\\ab ")), max_size=30)
SOUTH = st.dictionaries(
    st.sampled_from(["k", "i", "t", "getCmd"]),
    st.sampled_from(["k1", "d1", "", "x", "1", "2026-12-06T00:00:00Z", "bad"]),
    max_size=4,
)
READS = ["/wifi/zones", "/wifi/coverage", "/dashboard/alerts", "/opendata/catalog.jsonld"]
READS += ["/opendata/catalog.ttl", "/testbed/runs", "/testbed/sandboxes"]
READ_PARAMS = ["bbox", "lat", "lon", "radius", "limit", "offset", "since", "tenant", "status"]
READ_PARAMS += ["format", "page", "zone", "at"]
READ_VALUES = ["", "x", "-1", "1e999", "128.5,35.8,128.7,35.9", "nan", "inf", "0", "2026-12-06"]
TESTBED_FIELDS = ["name", "tenant", "ttl", "expires", "profile", "sandbox", "device", "scenario"]
TESTBED_FIELDS += ["duration", "devices", "description", "keys", "role"]


def _json(v: Any) -> str:
    return json.dumps(v)


FHIR_JSON = "application/fhir+json"
# (method, path, query, body, content type)
request = st.one_of(
    st.tuples(
        st.just("POST"),
        st.sampled_from(["/fhir/Patient", "/fhir/Observation", "/fhir/Consent", "/fhir/Xyz"]),
        st.just({}),
        resource.map(_json),
        st.just(FHIR_JSON),
    ),
    st.tuples(
        st.just("PUT"),
        st.sampled_from(["/fhir/Patient/p1", "/fhir/Observation/o1", "/fhir/Patient/p2"]),
        st.just({}),
        resource.map(_json),
        st.just(FHIR_JSON),
    ),
    st.tuples(
        st.just("PATCH"),
        st.sampled_from(["/fhir/Patient/p1", "/fhir/Patient/zz"]),
        st.just({}),
        json_patch.map(_json),
        st.sampled_from(["application/json-patch+json", FHIR_JSON]),
    ),
    st.tuples(
        st.just("POST"), st.just("/fhir"), st.just({}), bundle.map(_json), st.just(FHIR_JSON)
    ),
    st.tuples(
        st.sampled_from(["GET", "POST"]),
        st.sampled_from(
            [
                "/fhir/Patient",
                "/fhir/Observation",
                "/fhir/Patient/_search",
                "/fhir/Patient/p1/$everything",
                "/fhir/Patient/_history",
                "/fhir/Patient/p1/_history",
                "/fhir/Patient/p1/_history/1",
            ]
        ),
        search,
        st.just(""),
        st.just("application/x-www-form-urlencoded"),
    ),
    st.tuples(
        st.sampled_from(["GET", "POST"]),
        st.sampled_from(CKAN).map(lambda action: f"/opendata/api/3/action/{action}"),
        st.just({}),
        ckan_body.map(_json),
        st.just("application/json"),
    ),
    st.tuples(
        st.just("GET"),
        st.sampled_from(CKAN).map(lambda action: f"/opendata/api/3/action/{action}"),
        ckan_body.map(lambda d: {k: v if isinstance(v, str) else _json(v) for k, v in d.items()}),
        st.just(""),
        st.just("application/json"),
    ),
    st.tuples(
        st.sampled_from(["POST", "PUT"]),
        st.sampled_from(["/iot/devices", "/iot/devices/d1"]),
        st.just({}),
        st.one_of(
            st.lists(device, max_size=2).map(lambda d: _json({"devices": d})), device.map(_json)
        ),
        st.just("application/json"),
    ),
    st.tuples(
        st.sampled_from(["POST", "PUT", "DELETE"]),
        st.sampled_from(["/iot/services", "/iot/groups"]),
        st.dictionaries(
            st.sampled_from(["apikey", "resource", "device"]),
            st.sampled_from(["k1", "/iot/d", "", "x"]),
            max_size=2,
        ),
        st.one_of(
            st.lists(group, max_size=2).map(lambda g: _json({"services": g})), group.map(_json)
        ),
        st.just("application/json"),
    ),
    st.tuples(
        st.just("POST"),
        st.sampled_from(["/iot/d", "/iot/json"]),
        SOUTH,
        st.one_of(ultralight, value.map(_json)),
        st.sampled_from(["text/plain", "application/json"]),
    ),
    st.tuples(
        st.just("GET"),
        st.sampled_from(["/iot/d", "/iot/json"]),
        SOUTH,
        st.just(""),
        st.just("text/plain"),
    ),
    st.tuples(
        st.sampled_from(["POST", "PATCH"]),
        st.sampled_from(["/testbed/sandboxes", "/testbed/runs", "/testbed/sandboxes/x/keys"]),
        st.just({}),
        st.dictionaries(st.sampled_from(TESTBED_FIELDS), value, max_size=4).map(_json),
        st.just("application/json"),
    ),
    st.tuples(
        st.just("GET"),
        st.sampled_from(READS),
        st.dictionaries(st.sampled_from(READ_PARAMS), st.sampled_from(READ_VALUES), max_size=3),
        st.just(""),
        st.just("text/plain"),
    ),
)


@given(request, st.sampled_from(CALLERS))
@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_to_the_other_edges_gets_a_server_error(
    client: TestClient, req: tuple[str, str, dict[str, str], str, str], caller: dict[str, str]
) -> None:
    method, path, query, body, content_type = req
    response = client.request(
        method,
        quote(path, safe="/$"),
        params=query,
        headers={**IOT, **caller, "content-type": content_type},
        content=body.encode() if body else None,
    )
    assert response.status_code < 500, (method, path, query, body[:300], response.text[:500])
