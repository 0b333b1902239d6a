"""Virtual devices answer the commands they get (OK), so a profile declaring commands can
PASS with `dalgu simulate` as its reference device."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from dalgu.testbed.profile import parse_profile
from dalgu.testbed.simulator import Endpoints, provision, run_fleet
from tests.testbed.test_profiles_and_fleet import live

__all__ = ["live"]

E = "/ngsi-ld/v1/entities"


def profile(transport: str) -> Any:
    return parse_profile(
        f"""
name: bell
entity_type: Bell
payload: {"json" if transport == "http" else "ul"}
transport: {transport}
interval: 0.2
measures:
  - {{object_id: v, name: volume, type: Number, min: 0, max: 10}}
commands:
  - {{name: ring, value: {{mode: 1}}}}
"""
    )


@pytest.mark.parametrize("transport", ["mqtt", "http"])
def test_a_virtual_device_answers_its_commands_ok(
    live: tuple[TestClient, Endpoints], transport: str
) -> None:
    """docs/testbed.md: conformance runs have "command round trips", and virtual devices are
    the way to exercise a profile; they never answered, so the commands check always failed."""
    client, endpoints = live
    bell = profile(transport)
    apikey = f"bell-{transport}"
    asyncio.run(provision(bell, apikey, endpoints, ""))
    fleet = threading.Thread(
        target=lambda: asyncio.run(
            run_fleet(
                bell,
                apikey=apikey,
                devices=1,
                rate=5,
                duration=4,
                transport=transport,
                endpoints=endpoints,
            )
        )
    )
    fleet.start()
    try:
        entity = f"{E}/urn:ngsi-ld:Bell:bell-00000"
        deadline = time.monotonic() + 5
        while client.get(entity).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        patched = client.patch(f"{entity}/attrs/ring", json={"value": {"mode": 1}})
        assert patched.status_code == 204, patched.text
        deadline = time.monotonic() + 5
        while (status := client.get(entity).json()["ring_status"]["value"]) != "OK":
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
    finally:
        fleet.join(10)
