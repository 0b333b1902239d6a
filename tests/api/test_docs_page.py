"""The API docs page (`/ngsi-ld/v1/docs`): Swagger UI on the OpenAPI document, rendered by the
Swagger UI that Dalgu bundles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.conftest import IN_PROCESS


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.load(sqlite_path=tmp_path / "docs.db", mqtt_broker="off", **IN_PROCESS)
    with TestClient(build_app(settings)) as test_client:
        yield test_client


def test_document_declares_a_version_the_bundled_swagger_ui_renders(client: TestClient) -> None:
    # Swagger UI 4 (swagger-ui-bundle) accepts `openapi: 3.0.n` only: 3.1.0 is "Unable to
    # render this definition"
    import swagger_ui_bundle

    bundle = (swagger_ui_bundle.swagger_ui_path / "swagger-ui-bundle.js").read_text()
    assert "3.0.n" in bundle  # the bundle still says what it reads
    version = client.get("/ngsi-ld/v1/openapi.json").json()["openapi"]
    assert re.fullmatch(r"3\.0\.\d+", version), version


@pytest.mark.parametrize("page", ["/ngsi-ld/v1/docs", "/ngsi-ld/v1/docs/"])
def test_docs_page_assets_and_document_resolve(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200 and "SwaggerUIBundle" in response.text
    assets = re.findall(r"(?:href|src)='([^']+)'", response.text)
    assets += re.findall(r"url: '([^']+)'", response.text)
    assert len(assets) == 3, response.text
    base = "http://testserver" + page
    for asset in assets:
        url = urljoin(base, asset)
        assert client.get(url).status_code == 200, (page, asset, url)
