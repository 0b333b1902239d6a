"""The fleet's provisioning adds no config group beside a key's own (`dalgu simulate` with a
firm's key took over its devices' commands)."""

from __future__ import annotations

import asyncio

from starlette.testclient import TestClient

from dalgu.testbed.simulator import Endpoints, provision
from tests.testbed.test_fleet_commands import profile
from tests.testbed.test_profiles_and_fleet import live

__all__ = ["live"]


def test_the_fleet_adds_no_group_beside_the_key_s_own(live: tuple[TestClient, Endpoints]) -> None:
    """A key with its own `/iot/d` group (statics, commands): the fleet's provisioning leaves
    it the key's only group, so devices provisioned later keep its commands."""
    client, endpoints = live
    own = {
        "apikey": "k-own",
        "resource": "/iot/d",
        "entity_type": "Bell",
        "static_attributes": [{"name": "maker", "type": "Text", "value": "acme"}],
        "commands": [{"name": "reboot", "type": "command"}],
    }
    assert client.post("/iot/services", json={"services": [own]}).status_code == 201
    asyncio.run(provision(profile("mqtt"), "k-own", endpoints, ""))
    groups = client.get("/iot/services").json()["services"]
    assert [(g["resource"], [c["name"] for c in g["commands"]]) for g in groups] == [
        ("/iot/d", ["reboot"])
    ]
