"""A bounded schemathesis pass over the served OpenAPI document: no request gets a 5xx, and
every answer is one the document declares (its status, media type and body schema), so a
client generated from the document can read what Dalgu answers."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from tests.conftest import NO_GATEWAY_PORTS

#: the answer is one the document declares
DECLARED = [
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]

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
def test_no_request_gets_a_server_error_nor_an_undeclared_answer(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    case.validate_response(response, checks=DECLARED)
