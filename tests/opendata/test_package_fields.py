"""A package's fields as CKAN checks and reports them, on both stores: extras' keys, the
field a bad organization is reported under, and what the NGSI-LD resource declares."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.opendata.conftest import TOKEN, air_dataset, publish_in_process

ACTION = "/opendata/api/3/action"


def _post(client: TestClient, action: str, body: dict[str, Any]) -> Any:
    return client.post(f"{ACTION}/{action}", json=body, headers={"Authorization": TOKEN})


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("name", "There is a schema field with the same name"),
        ("entity_type", "There is a schema field with the same name"),
        ("owner_org", "There is a schema field with the same name"),
        ("", "Missing value"),
    ],
)
def test_an_extra_named_as_a_package_field_or_unnamed_is_refused(
    portal_client: TestClient, key: str, problem: str
) -> None:
    response = _post(
        portal_client, "package_create", air_dataset(extras=[{"key": key, "value": "x"}])
    )
    assert response.status_code == 409, response.text
    assert response.json()["error"]["extras"] == [problem]
    assert portal_client.get(f"{ACTION}/package_list").json()["result"] == []


def test_no_key_of_a_shown_package_may_name_an_extra(portal_client: TestClient) -> None:
    """Every key package_show answers with is refused as an extra's key."""
    shown = publish_in_process(portal_client)
    for key in shown:
        extras = [{"key": key, "value": "x"}]
        response = _post(portal_client, "package_patch", {"id": shown["id"], "extras": extras})
        assert response.status_code == 409, key
    extras = [{"key": "source", "value": "Daegu"}]
    response = _post(portal_client, "package_patch", {"id": shown["id"], "extras": extras})
    assert response.status_code == 200, response.text
    assert response.json()["result"]["extras"] == extras


def test_a_bad_owner_org_is_reported_under_owner_org(portal_client: TestClient) -> None:
    response = _post(portal_client, "package_create", air_dataset(owner_org="a b"))
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert "owner_org" in error and "organization" not in error
    assert error["message"].startswith("owner_org:")


def test_a_bad_organization_is_reported_under_organization(portal_client: TestClient) -> None:
    body = {k: v for k, v in air_dataset().items() if k != "owner_org"}
    response = _post(portal_client, "package_create", {**body, "organization": "a b"})
    assert response.status_code == 409, response.text
    assert "organization" in response.json()["error"]


def test_the_ngsi_ld_resource_declares_what_its_url_serves(portal_client: TestClient) -> None:
    package = publish_in_process(portal_client)
    (resource,) = [r for r in package["resources"] if r["format"] == "NGSI-LD"]
    served = portal_client.get(resource["url"])  # as a link checker fetches it: no Accept
    assert served.status_code == 200, served.text
    assert served.headers["content-type"].split(";")[0] == resource["mimetype"]
    assert "Accept: application/ld+json" in resource["description"]


def test_a_blank_title_or_notes_is_as_missing_not_an_empty_dcat_title(
    portal_client: TestClient,
) -> None:
    package = publish_in_process(portal_client, title="  ", notes=" \n ")
    assert package["title"] == "daegu-air"
    assert package["notes"] == ""
    turtle = portal_client.get(f"/opendata/dataset/{package['id']}.ttl").text
    assert '"  "' not in turtle and "De-identified open data of the city's" in turtle


def test_a_tag_of_spaces_only_is_refused(portal_client: TestClient) -> None:
    response = _post(portal_client, "package_create", air_dataset(tags=[{"name": "   "}]))
    assert response.status_code == 409, response.text
    assert "tags" in response.json()["error"]
