"""`evaluate --through-gateway` with --api given as the NGSI-LD root (as the API's own URLs
read) doubled the root: every read was a 404, and after five minutes the replay failed with
"its last samples were never stored"."""

from __future__ import annotations

import asyncio

import pytest

from dalgu.cli.safety import ngsi_ld_api
from dalgu.errors import BadRequestData
from dalgu.safety.gateway_replay import replay_through_gateway
from dalgu.safety.generator import generate_scenario
from dalgu.testbed.simulator import Endpoints
from tests.ports import free_port


@pytest.mark.parametrize(
    "given",
    [
        "http://127.0.0.1:2401",
        "http://127.0.0.1:2401/",
        "http://127.0.0.1:2401/ngsi-ld/v1",
        "http://127.0.0.1:2401/ngsi-ld/v1/",
    ],
)
def test_api_given_as_base_or_as_ngsi_ld_root_reads_the_same_root(given: str) -> None:
    assert ngsi_ld_api(given) == "http://127.0.0.1:2401/ngsi-ld/v1"


def test_an_unreachable_api_fails_before_anything_is_sent() -> None:
    port = free_port()
    with pytest.raises(BadRequestData, match="cannot be reached"):
        asyncio.run(
            asyncio.wait_for(
                replay_through_gateway(
                    [generate_scenario(1000, duration=900)],
                    endpoints=Endpoints("127.0.0.1", free_port()),
                    api=f"http://127.0.0.1:{port}/ngsi-ld/v1",
                    north=f"http://127.0.0.1:{port}",
                ),
                30,
            )
        )
