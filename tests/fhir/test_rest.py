"""The FHIR REST interactions through the app, on both stores."""

from __future__ import annotations

import orjson
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.fhir.conftest import ADMIN, FHIR, create, observation, patient


def test_create_then_read_returns_the_resource_with_version_headers(client: TestClient) -> None:
    response = client.post("/fhir/Patient", json=patient(), headers=ADMIN)
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert body["meta"]["versionId"] == "1"
    read = client.get(f"/fhir/Patient/{body['id']}", headers=ADMIN)
    assert read.status_code == 200
    assert read.json()["name"][0]["family"] == "Kim"
    assert read.headers["etag"] == 'W/"1"'
    assert read.headers["last-modified"].endswith("GMT")


def test_update_with_current_etag_makes_version_two_and_vread_keeps_one(
    client: TestClient,
) -> None:
    pid = create(client, patient())
    changed = {**patient("Lee"), "id": pid}
    response = client.put(
        f"/fhir/Patient/{pid}", json=changed, headers={**ADMIN, "If-Match": 'W/"1"'}
    )
    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"2"'
    first = client.get(f"/fhir/Patient/{pid}/_history/1", headers=ADMIN)
    assert first.json()["name"][0]["family"] == "Kim"
    assert client.get(f"/fhir/Patient/{pid}", headers=ADMIN).json()["name"][0]["family"] == "Lee"


def test_update_with_stale_etag_is_412_and_changes_nothing(client: TestClient) -> None:
    pid = create(client, patient())
    client.put(f"/fhir/Patient/{pid}", json={**patient("Lee"), "id": pid}, headers=ADMIN)
    stale = client.put(
        f"/fhir/Patient/{pid}",
        json={**patient("Park"), "id": pid},
        headers={**ADMIN, "If-Match": 'W/"1"'},
    )
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/fhir/Patient/{pid}", headers=ADMIN).json()["name"][0]["family"] == "Lee"


def test_update_of_a_new_id_creates_it(client: TestClient) -> None:
    response = client.put("/fhir/Patient/p-new", json={**patient(), "id": "p-new"}, headers=ADMIN)
    assert response.status_code == 201
    assert response.headers["location"].endswith("/fhir/Patient/p-new/_history/1")


def test_update_whose_body_id_differs_from_url_is_400(client: TestClient) -> None:
    response = client.put("/fhir/Patient/a", json={**patient(), "id": "b"}, headers=ADMIN)
    assert response.status_code == 400


def test_deleted_resource_reads_as_410_and_history_keeps_it(client: TestClient) -> None:
    pid = create(client, patient())
    assert client.delete(f"/fhir/Patient/{pid}", headers=ADMIN).status_code == 204
    gone = client.get(f"/fhir/Patient/{pid}", headers=ADMIN)
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    history = client.get(f"/fhir/Patient/{pid}/_history", headers=ADMIN).json()
    assert history["type"] == "history" and history["total"] == 2
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    assert client.get(f"/fhir/Patient/{pid}/_history/1", headers=ADMIN).status_code == 200


def test_unknown_resource_and_type_are_404(client: TestClient) -> None:
    assert client.get("/fhir/Patient/nope", headers=ADMIN).status_code == 404
    assert client.get("/fhir/Spaceship/1", headers=ADMIN).status_code == 404
    assert client.delete("/fhir/Patient/nope", headers=ADMIN).status_code == 404


def test_invalid_content_is_422_with_the_problems(client: TestClient) -> None:
    bad = {**patient(), "birthDate": "1980-13-45", "gender": "robot"}
    response = client.post("/fhir/Patient", json=bad, headers=ADMIN)
    assert response.status_code == 422
    issues = " ".join(i["diagnostics"] for i in response.json()["issue"])
    assert "birthDate" in issues and "gender" in issues


def test_malformed_requests_are_400_or_415_never_500(client: TestClient) -> None:
    assert client.post("/fhir/Patient", content=b"{not json", headers=ADMIN).status_code == 400
    wrong_type = client.post("/fhir/Patient", json=observation("x"), headers=ADMIN)
    assert wrong_type.status_code == 400
    xml = client.post(
        "/fhir/Patient", content=b"<Patient/>", headers={**ADMIN, "Content-Type": "application/xml"}
    )
    assert xml.status_code == 415
    assert client.post("/fhir/Patient", json=[1, 2], headers=ADMIN).status_code == 400


def test_request_without_principal_is_401(client: TestClient) -> None:
    response = client.get("/fhir/Patient", headers=FHIR)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_patient_or_device_principal_of_another_server_is_401(client: TestClient) -> None:
    """Another server's Patient/p1 is not this server's (an outside test: the header named
    `http://other.example/fhir/Patient/p1` and was taken for the local patient p1)."""
    for role, who in (("patient", "Patient"), ("device", "Device")):
        headers = {
            **FHIR,
            "X-Dalgu-Role": role,
            "X-Dalgu-Principal": f"http://other.example/fhir/{who}/p1",
        }
        assert client.get(f"/fhir/{who}/p1", headers=headers).status_code == 401
    own = {**FHIR, "X-Dalgu-Role": "patient", "X-Dalgu-Principal": "Patient/p1"}
    assert client.get("/fhir/Patient/p1", headers=own).status_code != 401


def test_prefer_return_minimal_has_no_body(client: TestClient) -> None:
    response = client.post(
        "/fhir/Patient", json=patient(), headers={**ADMIN, "Prefer": "return=minimal"}
    )
    assert response.status_code == 201 and response.content == b""
    assert "location" in response.headers


def test_type_history_lists_every_version(client: TestClient) -> None:
    a = create(client, patient("A"))
    create(client, patient("B"))
    client.put(f"/fhir/Patient/{a}", json={**patient("A2"), "id": a}, headers=ADMIN)
    history = client.get("/fhir/Patient/_history", headers=ADMIN).json()
    assert history["total"] == 3


def test_metadata_lists_resources_interactions_and_search_parameters(client: TestClient) -> None:
    statement = client.get("/fhir/metadata").json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for kind in ("Patient", "Practitioner", "Organization", "Device", "Observation"):
        assert kind in resources
    for kind in ("Encounter", "Condition", "Consent", "AuditEvent"):
        assert kind in resources
    observation_params = {p["name"] for p in resources["Observation"]["searchParam"]}
    assert {"patient", "subject", "code", "date", "category", "device"} <= observation_params
    audit = {i["code"] for i in resources["AuditEvent"]["interaction"]}
    assert "update" not in audit and "delete" not in audit
    assert "Observation:patient" in resources["Observation"]["searchInclude"]


def test_metadata_has_no_empty_array_or_object(client: TestClient) -> None:
    """json.html: "arrays and objects SHALL NOT be empty" (Practitioner has no reference
    parameter: no searchInclude at all)."""

    def empties(value: object, path: str) -> list[str]:
        if value in ([], {}):
            return [path]
        if isinstance(value, dict):
            return [e for k, v in value.items() for e in empties(v, f"{path}.{k}")]
        if isinstance(value, list):
            return [e for i, v in enumerate(value) for e in empties(v, f"{path}[{i}]")]
        return []

    statement = client.get("/fhir/metadata").json()
    assert empties(statement, "CapabilityStatement") == []
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert "searchInclude" not in resources["Practitioner"]


#: R4's search-parameters.json: the definitions several types share (their `base`)
R4_SHARED = {
    "clinical-identifier": "Observation Encounter Condition AllergyIntolerance "
    "MedicationStatement Consent",
    "clinical-patient": "Observation Encounter Condition AllergyIntolerance MedicationStatement "
    "Consent",
    "clinical-code": "Observation Condition AllergyIntolerance MedicationStatement",
    "clinical-date": "Observation Encounter Consent",
    "clinical-encounter": "Observation",
    "clinical-type": "Encounter",
    "individual-family": "Patient Practitioner",
    "individual-given": "Patient Practitioner",
    "individual-birthdate": "Patient",
    "individual-gender": "Patient",
    "individual-address-city": "Patient",
    "medications-status": "MedicationStatement",
    "medications-medication": "MedicationStatement",
}


def test_metadata_names_the_r4_definition_of_each_search_parameter(client: TestClient) -> None:
    """searchParam.definition is where the parameter was first defined (fhir report #1):
    R4's shared definition (`clinical-patient`) where R4 has one, `[type]-[name]` otherwise,
    and a URL of Dalgu's own for the parameters R4 does not define."""
    hl7 = "http://hl7.org/fhir/SearchParameter/"
    shared = {
        (t, p): canonical
        for canonical, types in R4_SHARED.items()
        for t in types.split()
        for p in [canonical.split("-", 1)[1]]
    }
    statement = client.get("/fhir/metadata").json()
    for resource in statement["rest"][0]["resource"]:
        t = resource["type"]
        for param in resource["searchParam"]:
            name, definition = param["name"], param["definition"]
            if (t, name) in {("Consent", "actor-role"), ("AuditEvent", "purpose")}:
                assert definition == f"urn:dalgu:fhir:SearchParameter/{t}-{name}"
            elif name in ("_id", "_lastUpdated"):
                assert definition == f"{hl7}Resource-{name[1:]}"
            else:
                assert definition == hl7 + shared.get((t, name), f"{t}-{name}"), (t, name)


def test_unsupported_method_is_405_outcome(client: TestClient) -> None:
    for response in (
        client.patch("/fhir/Patient", json={}, headers=ADMIN),  # a patch names one resource
        client.post("/fhir/Patient/1", json={}, headers=ADMIN),
    ):
        assert response.status_code == 405
        assert response.json()["resourceType"] == "OperationOutcome"


def test_a_405_says_which_methods_the_path_allows(client: TestClient) -> None:
    """RFC 9110 15.5.6: a 405 carries Allow."""
    assert client.patch("/fhir/Patient", json={}, headers=ADMIN).headers["allow"] == (
        "GET, HEAD, POST"
    )
    assert "PUT" in client.post("/fhir/Patient/1", json={}, headers=ADMIN).headers["allow"]
    refused = client.put("/fhir/AuditEvent/1", json={}, headers=ADMIN)
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"


def test_a_count_past_the_largest_page_is_capped_not_refused(client: TestClient) -> None:
    """R4 search 3.1.1.5.5: the server may return fewer than `_count` asks for."""
    for _ in range(3):
        create(client, patient())
    response = client.get("/fhir/Patient?_count=100000", headers=ADMIN)
    assert response.status_code == 200, response.text
    assert len(response.json()["entry"]) == 3
    assert client.get("/fhir/Patient?_count=-1", headers=ADMIN).status_code == 400


def test_a_format_other_than_json_is_406_on_reads_and_searches(client: TestClient) -> None:
    kim = create(client, patient())
    for url in (f"/fhir/Patient/{kim}?_format=xml", "/fhir/Patient?_format=xml"):
        response = client.get(url, headers=ADMIN)
        assert response.status_code == 406, url
        assert response.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/fhir/Patient/{kim}?_format=json", headers=ADMIN).status_code == 200
    accept_xml = {**ADMIN, "Accept": "application/fhir+xml"}
    assert client.get(f"/fhir/Patient/{kim}", headers=accept_xml).status_code == 406


def test_the_older_json_media_type_is_taken(client: TestClient) -> None:
    """DSTU2's application/json+fhir, which older clients still send (HAPI takes it)."""
    legacy = {"X-Dalgu-Role": "admin", "Content-Type": "application/json+fhir"}
    response = client.post(
        "/fhir/Patient",
        content=orjson.dumps(patient()),
        headers={**legacy, "Accept": "application/json+fhir"},
    )
    assert response.status_code == 201, response.text


def test_a_search_with_no_match_has_no_empty_entry_array(client: TestClient) -> None:
    """FHIR JSON has no empty arrays (json.html)."""
    bundle = client.get("/fhir/Patient?family=nobody", headers=ADMIN).json()
    assert bundle["total"] == 0
    assert "entry" not in bundle


def test_collection_url_with_trailing_slash_is_the_collection(client: TestClient) -> None:
    create(client, patient())
    response = client.get("/fhir/Patient/", headers=ADMIN)
    assert response.status_code == 200 and response.json()["total"] == 1


def test_history_pages_link_to_themselves_and_back(client: TestClient) -> None:
    kim = create(client, patient())
    for family in ("Lee", "Park", "Choi", "Jung"):
        body = {**patient(family), "id": kim}
        assert client.put(f"/fhir/Patient/{kim}", json=body, headers=ADMIN).status_code == 200
    url = f"/fhir/Patient/{kim}/_history?_count=2&_offset=2"
    page = client.get(url, headers=ADMIN).json()
    links = {link["relation"]: link["url"] for link in page["link"]}
    assert links["self"].endswith("_count=2&_offset=2")
    assert links["next"].endswith("_count=2&_offset=4")
    assert links["previous"].endswith(f"/Patient/{kim}/_history?_count=2")
    assert [e["response"]["etag"] for e in page["entry"]] == ['W/"3"', 'W/"2"']


def test_a_lenient_search_links_without_what_it_skipped(client: TestClient) -> None:
    create(client, patient())
    headers = {**ADMIN, "Prefer": "handling=lenient"}
    bundle = client.get("/fhir/Patient?family=kim&bogus=1", headers=headers).json()
    assert bundle["total"] == 1
    assert "bogus" not in bundle["link"][0]["url"]
    assert "family=kim" in bundle["link"][0]["url"]


def test_if_none_match_star_on_an_existing_resource_is_412_and_changes_nothing(
    client: TestClient,
) -> None:
    """RFC 9110 13.1.2: `If-None-Match: *` is "create only"; a client choosing its own ids
    relies on it not to overwrite a record."""
    client.put("/fhir/Patient/pt-star", json={**patient(), "id": "pt-star"}, headers=ADMIN)
    response = client.put(
        "/fhir/Patient/pt-star",
        json={"resourceType": "Patient", "id": "pt-star", "active": True},
        headers={**ADMIN, "If-None-Match": "*"},
    )
    assert response.status_code == 412
    assert response.json()["resourceType"] == "OperationOutcome"
    kept = client.get("/fhir/Patient/pt-star", headers=ADMIN)
    assert kept.headers["etag"] == 'W/"1"' and kept.json()["name"][0]["family"] == "Kim"


def test_if_none_match_star_creates_a_new_or_deleted_resource(client: TestClient) -> None:
    star = {**ADMIN, "If-None-Match": "*"}
    body = {**patient(), "id": "pt-star"}
    assert client.put("/fhir/Patient/pt-star", json=body, headers=star).status_code == 201
    assert client.delete("/fhir/Patient/pt-star", headers=ADMIN).status_code == 204
    again = client.put("/fhir/Patient/pt-star", json=body, headers=star)
    assert again.status_code == 201 and again.headers["etag"] == 'W/"3"'


def test_if_none_match_naming_the_current_version_is_412(client: TestClient) -> None:
    client.put("/fhir/Patient/pt-v", json={**patient(), "id": "pt-v"}, headers=ADMIN)
    body = {**patient("Lee"), "id": "pt-v"}
    current = {**ADMIN, "If-None-Match": 'W/"2", W/"1"'}
    assert client.put("/fhir/Patient/pt-v", json=body, headers=current).status_code == 412
    other = {**ADMIN, "If-None-Match": 'W/"7"'}
    assert client.put("/fhir/Patient/pt-v", json=body, headers=other).status_code == 200
    bad = {**ADMIN, "If-None-Match": "yesterday"}
    assert client.put("/fhir/Patient/pt-v", json=body, headers=bad).status_code == 400


def test_an_update_without_an_id_says_so_without_python_reprs(client: TestClient) -> None:
    response = client.put("/fhir/Patient/pt-1", json=patient(), headers=ADMIN)
    assert response.status_code == 400
    diagnostics = response.json()["issue"][0]["diagnostics"]
    assert "no id" in diagnostics and "None" not in diagnostics


def test_if_match_star_updates_only_what_exists(client: TestClient) -> None:
    """RFC 9110 13.1.1: `If-Match: *` is true when there is a current representation
    (fhir report #6: it was a 400)."""
    star = {**ADMIN, "If-Match": "*"}
    kim = create(client, patient())
    response = client.put(f"/fhir/Patient/{kim}", json=patient("Lee", id=kim), headers=star)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == 'W/"2"'
    absent = client.put("/fhir/Patient/nobody", json=patient(id="nobody"), headers=star)
    assert absent.status_code == 412
    assert client.get("/fhir/Patient/nobody", headers=ADMIN).status_code == 404
    json_patch = {**star, "Content-Type": "application/json-patch+json"}
    patch = [{"op": "replace", "path": "/gender", "value": "male"}]
    assert client.patch(f"/fhir/Patient/{kim}", json=patch, headers=json_patch).status_code == 200
    assert client.delete(f"/fhir/Patient/{kim}", headers=star).status_code == 204
    again = client.put(f"/fhir/Patient/{kim}", json=patient(id=kim), headers=star)
    assert again.status_code == 412  # deleted: no current representation
    entry = {
        "resource": patient(id=kim),
        "request": {"method": "PUT", "url": f"Patient/{kim}", "ifMatch": "*"},
    }
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    assert client.post("/fhir", json=bundle, headers=ADMIN).status_code == 412
    assert client.get(f"/fhir/Patient/{kim}", headers=ADMIN).status_code == 410


def test_a_version_beyond_any_there_can_be_is_not_found_never_500(client: TestClient) -> None:
    """http.html vread: a version that does not exist is 404, however large its number (the
    stores keep versions as 32-bit integers: such a number never reaches them)."""
    kim = create(client, patient())
    response = client.get(f"/fhir/Patient/{kim}/_history/\u00b2", headers=ADMIN)  # a digit
    assert response.status_code == 404, response.text
    for vid in ("2147483648", "99999999999999999999"):
        response = client.get(f"/fhir/Patient/{kim}/_history/{vid}", headers=ADMIN)
        assert response.status_code == 404, (vid, response.text)
        assert response.json()["issue"][0]["code"] == "not-found"
        later = observation(kim) | {"subject": {"reference": f"Patient/{kim}/_history/{vid}"}}
        written = client.post("/fhir/Observation", json=later, headers=ADMIN)
        assert written.status_code == 422, (vid, written.text)
        assert "is no version of a resource here" in written.text
        entries = [
            {"request": {"method": "GET", "url": f"Patient/{kim}/_history/{vid}"}},
            {"resource": later, "request": {"method": "POST", "url": "Observation"}},
        ]
        batch = {"resourceType": "Bundle", "type": "batch", "entry": entries}
        answered = client.post("/fhir", json=batch, headers=ADMIN).json()["entry"]
        assert [e["response"]["status"][:3] for e in answered] == ["404", "422"], vid
        transaction = {**batch, "type": "transaction", "entry": entries[1:]}
        assert client.post("/fhir", json=transaction, headers=ADMIN).status_code == 422
    for url in (f"/fhir/Patient/{kim}/_history", "/fhir/Patient/_history", "/fhir/Patient"):
        response = client.get(f"{url}?_offset=99999999999999999999", headers=ADMIN)
        assert response.status_code == 400, (url, response.text)
    # not a server failure in the audit trail: a refused request (outcome 4), not 8
    failed = client.get("/fhir/AuditEvent?outcome=8", headers=ADMIN).json()
    assert failed["total"] == 0


def test_history_shows_how_each_version_was_made(client: TestClient) -> None:
    """Bundle.entry.request: "for history, it shows how the entry was processed to create the
    version": a PUT that created a resource is that PUT, a re-create after a delete a 201."""
    made = client.put("/fhir/Patient/new-1", json=patient(id="new-1"), headers=ADMIN)
    assert made.status_code == 201
    assert (
        client.put("/fhir/Patient/new-1", json=patient(id="new-1"), headers=ADMIN).status_code
        == 200
    )
    assert client.delete("/fhir/Patient/new-1", headers=ADMIN).status_code == 204
    again = client.put("/fhir/Patient/new-1", json=patient(id="new-1"), headers=ADMIN)
    assert again.status_code == 201
    posted = create(client, patient())
    for count in ("", "?_count=1"):  # the version before a re-create need not be on the page
        page = client.get(f"/fhir/Patient/new-1/_history{count}", headers=ADMIN).json()
        seen = [
            (e["request"]["method"], e["request"]["url"], e["response"]["status"])
            for e in page["entry"]
        ]
        expected = [
            ("PUT", "Patient/new-1", "201 Created"),
            ("DELETE", "Patient/new-1", "204 No Content"),
            ("PUT", "Patient/new-1", "200 OK"),
            ("PUT", "Patient/new-1", "201 Created"),
        ]
        assert seen == expected[: len(seen)], count
    typed = client.get("/fhir/Patient/_history?_count=1", headers=ADMIN).json()["entry"][0]
    assert typed["fullUrl"].endswith(f"/Patient/{posted}")
    assert typed["request"] == {"method": "POST", "url": "Patient"}
    assert typed["response"]["status"] == "201 Created"


def test_a_history_count_past_the_largest_page_is_capped_as_a_searchs(settings: Settings) -> None:
    """http.html history `_count`: "the server is not bound to return the number requested,
    but cannot return more"; served as the largest page (here 2), its links paging by it."""
    with TestClient(build_app(settings.model_copy(update={"fhir_max_count": 2}))) as small:
        kim = create(small, patient())
        for family in ("Lee", "Park"):
            body = {**patient(family), "id": kim}
            assert small.put(f"/fhir/Patient/{kim}", json=body, headers=ADMIN).status_code == 200
        for url in (f"/fhir/Patient/{kim}/_history", "/fhir/Patient/_history"):
            response = small.get(f"{url}?_count=1000", headers=ADMIN)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["entry"]) == 2 and page["total"] == 3
            links = {link["relation"]: link["url"] for link in page["link"]}
            assert links["next"].endswith("_count=1000&_offset=2")
        assert (
            small.get(f"/fhir/Patient/{kim}/_history?_count=-1", headers=ADMIN).status_code == 400
        )


def test_every_prefer_field_counts_and_a_quoted_value_is_its_content(client: TestClient) -> None:
    """RFC 7240 2: several Prefer fields are one with their values comma-separated; a value is
    a token or a quoted-string; the first of a preference counts; names ignore case."""
    create(client, patient("Muller"))

    def with_prefer(*fields: str) -> list[tuple[str, str]]:
        return [*ADMIN.items(), *(("Prefer", f) for f in fields)]

    for fields in (
        ("return=representation", "handling=lenient"),
        ("handling=lenient", "return=representation"),
        ('handling="lenient"',),
        ("Handling=lenient; strict=no",),
    ):
        found = client.get("/fhir/Patient?family=mul&foo=1", headers=with_prefer(*fields))
        assert found.status_code == 200, fields
    for fields in (
        ("handling=lenient", "return=minimal"),
        ('return="minimal"',),
        ("return=minimal", "return=representation"),
        ("handling=lenient, RETURN=minimal",),
    ):
        made = client.post("/fhir/Patient", json=patient(), headers=with_prefer(*fields))
        assert made.status_code == 201 and made.content == b"", fields
    strict = client.get("/fhir/Patient?foo=1", headers=with_prefer('x="a,handling=lenient"'))
    assert strict.status_code == 400  # inside a quoted-string: not a preference of its own
