"""`dalgu opendata publish/list/delete` on the store the settings name, both stores: what it
publishes is what the CKAN API then shows."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from dalgu.api.app import build_app
from dalgu.cli.app import app
from dalgu.settings import Settings


@pytest.fixture
def environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DALGU_PORT", "1099")
    settings = settings.model_copy(update={"port": 1099})
    monkeypatch.setenv("DALGU_STORE", settings.store)
    monkeypatch.setenv("DALGU_SQLITE_PATH", str(settings.sqlite_path))
    monkeypatch.setenv("DALGU_POSTGRES_DSN", settings.postgres_dsn)
    return settings


def _dalgu(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["opendata", *args])
    return result.exit_code, result.output


def test_publish_then_the_ckan_api_shows_the_dataset_and_delete_removes_it(
    environment: Settings,
) -> None:
    code, output = _dalgu(
        "publish", "daegu-air", "--type", "AirQualityObserved", "--attrs", "pm10,pm25",
        "--geometry", "location", "--withhold", "owner", "--grid", "250", "--tag", "air",
        "--org", "daegu-city",
    )  # fmt: skip
    assert code == 0, output
    code, listed = _dalgu("list")
    assert code == 0 and "daegu-air" in listed and "grid 250 m" in listed
    with TestClient(build_app(environment)) as client:
        shown = client.get("/opendata/api/3/action/package_show", params={"id": "daegu-air"})
        package = shown.json()["result"]
        assert package["attributes"] == ["pm10", "pm25"]
        assert package["withheld_attributes"] == ["owner"] and package["grid_metres"] == 250
    assert _dalgu("delete", "daegu-air")[0] == 0
    assert _dalgu("delete", "daegu-air")[0] == 1


def test_publish_refuses_a_withheld_attribute_with_status_2(environment: Settings) -> None:
    code, output = _dalgu(
        "publish", "leaky", "--type", "T", "--attrs", "owner", "--withhold", "owner"
    )
    assert code == 2 and "withheld_attributes" in output
    assert "leaky" not in _dalgu("list")[1]


def test_publish_warns_when_no_entity_matches_and_says_when_it_replaces(
    environment: Settings,
) -> None:
    publish = ("publish", "air", "--type", "AirQualityObserved", "--attrs", "pm10")
    code, output = _dalgu(*publish)
    assert code == 0 and "published air" in output
    assert "warning" in output and "--context" in output
    # the demo city's context at this server's address, not at 1026 whatever the port
    hint = f"{environment.base_url}/ngsi-ld/v1/jsonldContexts/dalgu-city"
    assert hint in "".join(output.split())
    with TestClient(build_app(environment)) as client:
        entity = {"id": "urn:ngsi-ld:AirQualityObserved:1", "type": "AirQualityObserved"}
        assert client.post("/ngsi-ld/v1/entities", json=entity).status_code == 201
    code, output = _dalgu(*publish)
    assert code == 0 and "replaced air" in output and "warning" not in output
