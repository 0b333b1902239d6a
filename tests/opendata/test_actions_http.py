"""CKAN's envelope and status codes on the wire, for clients other than ckanapi (curl, a
browser, CKAN harvesters), on both stores."""

from __future__ import annotations

import orjson
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.opendata.conftest import air_dataset

ACTION = "/opendata/api/3/action"


def test_every_answer_has_ckan_envelope_and_help_url(client: TestClient) -> None:
    body = client.get(f"{ACTION}/package_list").json()
    assert body == {
        "help": "http://testserver/opendata/api/3/action/help_show?name=package_list",
        "success": True,
        "result": [],
    }


def test_an_action_answers_alike_over_get_and_post(client: TestClient) -> None:
    over_get = client.get(f"{ACTION}/license_list").json()
    over_post = client.post(f"{ACTION}/license_list", json={}).json()
    legacy_path = client.get("/opendata/api/action/license_list").json()
    assert over_get["result"] == over_post["result"] == legacy_path["result"]
    assert over_get["result"]


def test_without_a_configured_token_every_write_is_403(client: TestClient) -> None:
    for action in ("package_create", "package_update", "package_patch", "package_delete"):
        response = client.post(
            f"{ACTION}/{action}", json={**air_dataset(), "id": "daegu-air"},
            headers={"Authorization": "anything"},
        )  # fmt: skip
        assert response.status_code == 403, action
        error = response.json()["error"]
        assert response.json()["success"] is False
        assert error["__type"] == "Authorization Error"


def test_not_found_is_404_and_validation_error_409(client: TestClient) -> None:
    missing = client.get(f"{ACTION}/package_show", params={"id": "nothing"})
    assert missing.status_code == 404
    assert missing.json()["error"]["__type"] == "Not Found Error"
    invalid = client.get(f"{ACTION}/package_search", params={"rows": "-3"})
    assert invalid.status_code == 409
    assert invalid.json()["error"]["__type"] == "Validation Error"
    assert "rows" in invalid.json()["error"]


def test_an_unknown_action_or_a_body_that_is_not_an_object_is_400(client: TestClient) -> None:
    unknown = client.get(f"{ACTION}/package_frobnicate")
    assert unknown.status_code == 400 and unknown.json()["success"] is False
    not_object = client.post(
        f"{ACTION}/package_show", content=b"[1]", headers={"Content-Type": "application/json"}
    )
    assert not_object.status_code == 400
    broken = client.post(
        f"{ACTION}/package_show", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400


def test_help_show_documents_an_action(client: TestClient) -> None:
    text = client.get(f"{ACTION}/help_show", params={"name": "package_search"}).json()["result"]
    assert "fq" in text


def test_an_empty_token_setting_leaves_the_catalogue_read_only(settings: Settings) -> None:
    with TestClient(build_app(settings.model_copy(update={"opendata_token": ""}))) as client:
        for authorization in ("", "Bearer "):
            response = client.post(
                f"{ACTION}/package_create",
                json=air_dataset(),
                headers={"Authorization": authorization},
            )
            assert response.status_code == 403


def test_facet_field_may_be_a_json_list_in_a_post_body_as_ckan_sends_it(client: TestClient) -> None:
    body = {"facet.field": '["tags", "organization"]', "rows": 0}
    result = client.post(f"{ACTION}/package_search", json=body).json()["result"]
    assert set(result["facets"]) == {"tags", "organization"}


def test_an_fq_of_too_many_terms_is_a_409_search_query_is_invalid(client: TestClient) -> None:
    fq = " ".join(f"-name:n{i}" for i in range(2000))
    response = client.post(f"{ACTION}/package_search", json={"fq": fq})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["__type"] == "Validation Error"
    assert "Search Query is invalid" in error["fq"][0]


def test_a_write_action_over_get_is_400_and_writes_nothing(settings: Settings) -> None:
    with TestClient(build_app(settings.model_copy(update={"opendata_token": "t0ken"}))) as client:
        token = {"Authorization": "t0ken"}
        created = client.post(f"{ACTION}/package_create", json=air_dataset(), headers=token)
        assert created.status_code == 200
        params = {"name": "other", "entity_type": "Person", "attributes": "age", "id": "daegu-air"}
        for action in ("package_create", "package_update", "package_patch", "package_delete"):
            response = client.get(f"{ACTION}/{action}", params=params, headers=token)
            assert response.status_code == 400, action
            assert response.json()["error"]["message"] == (
                "Bad request - JSON Error: Invalid request. Please use POST method for your request"
            )
        assert client.get(f"{ACTION}/package_list").json()["result"] == ["daegu-air"]


@pytest.mark.parametrize(("field", "value"), [("private", True), ("state", "draft")])
def test_a_private_or_draft_package_is_refused_naming_the_field(
    settings: Settings, field: str, value: object
) -> None:
    with TestClient(build_app(settings.model_copy(update={"opendata_token": "t0ken"}))) as client:
        response = client.post(
            f"{ACTION}/package_create",
            json={**air_dataset(), field: value},
            headers={"Authorization": "t0ken"},
        )
        assert response.status_code == 409
        assert field in response.json()["error"]
        assert client.get(f"{ACTION}/package_list").json()["result"] == []


def test_a_public_active_package_sent_back_as_package_show_gave_it_is_accepted(
    settings: Settings,
) -> None:
    with TestClient(build_app(settings.model_copy(update={"opendata_token": "t0ken"}))) as client:
        body = {**air_dataset(), "private": False, "state": "active"}
        response = client.post(
            f"{ACTION}/package_create", json=body, headers={"Authorization": "t0ken"}
        )
        assert response.status_code == 200


@pytest.mark.parametrize("rows", [5.5, 0.5, True])
def test_rows_that_is_not_a_json_integer_is_a_409(client: TestClient, rows: object) -> None:
    response = client.post(f"{ACTION}/package_search", json={"rows": rows})
    assert response.status_code == 409
    assert response.json()["error"]["rows"] == ["Invalid integer"]


def test_the_kogl_type_1_licence_points_at_the_page_of_type_1_not_of_every_type(
    client: TestClient,
) -> None:
    licences = {lic["id"]: lic for lic in client.get(f"{ACTION}/license_list").json()["result"]}
    assert licences["KOGL-Type1"]["url"] == "https://www.kogl.or.kr/info/licenseType1.do"


def test_the_api_root_answers_its_version_as_ckan_does(client: TestClient) -> None:
    for path in ("/opendata/api/3", "/opendata/api/3/"):
        response = client.get(path)
        assert response.status_code == 200 and response.json() == {"version": 3}, path


@pytest.mark.parametrize("q", ['"traffic flow', "traffic^2", "tags:(air OR bus)"])
def test_solr_syntax_the_search_does_not_read_is_a_409_not_an_empty_result(
    client: TestClient, q: str
) -> None:
    """docs/opendata.md: Solr syntax beyond what Dalgu reads is "a 409 Validation Error ...,
    never a search that silently matches nothing"."""
    response = client.get(f"{ACTION}/package_search", params={"q": q})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["__type"] == "Validation Error"
    assert error["q"]


def test_a_form_encoded_post_is_read_as_ckan_reads_it(settings: Settings) -> None:
    """CKAN's `_get_request_data` reads a POST's form: a single key holding JSON (what
    `curl -d '{...}'` sends, its Content-Type a form's) is the JSON object, other fields are
    the parameters. Both were a 400 ("send the parameters as application/json")."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with TestClient(build_app(settings.model_copy(update={"opendata_token": "t0ken"}))) as client:
        body = orjson.dumps(air_dataset(notes="PM10 + PM2.5 & more, 100%"))
        created = client.post(
            f"{ACTION}/package_create", content=body, headers={**form, "Authorization": "t0ken"}
        )
        assert created.status_code == 200, created.text
        assert created.json()["result"]["notes"] == "PM10 + PM2.5 & more, 100%"
        by_field = client.post(f"{ACTION}/package_show", content=b"id=daegu-air", headers=form)
        assert by_field.json()["result"]["name"] == "daegu-air"
        as_one_key = client.post(
            f"{ACTION}/package_show", content=b"%7B%22id%22%3A%22daegu-air%22%7D=", headers=form
        )
        assert as_one_key.json()["result"]["name"] == "daegu-air"
        search = client.post(
            f"{ACTION}/package_search", content=b"fq=tags%3Aair&rows=1", headers=form
        ).json()["result"]
        assert (search["count"], len(search["results"])) == (1, 1)
        upload = client.post(
            f"{ACTION}/package_show",
            content=b"--x\r\n",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
        assert upload.status_code == 400  # uploads are not supported
