"""A bounded schemathesis pass over the served OpenAPI document: no request gets a 5xx."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.conftest import NO_GATEWAY_PORTS

_APP = build_app(
    Settings.load(
        sqlite_path=Path(tempfile.mkdtemp()) / "fuzz.db", mqtt_broker="off", **NO_GATEWAY_PORTS
    )
)
_CLIENT = TestClient(_APP)
_CLIENT.__enter__()  # run the lifespan once for the whole module
schema = schemathesis.openapi.from_asgi("/ngsi-ld/v1/openapi.json", _APP)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
