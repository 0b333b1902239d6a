"""`PATCH /testbed/sandboxes/{name}` merges the quotas it names (RFC 7396): the others stay."""

from __future__ import annotations

from starlette.testclient import TestClient

SB = "/testbed/sandboxes"


def test_patching_one_quota_keeps_the_others(client: TestClient) -> None:
    """RFC 7396 2: members of a nested object the patch does not name are left as they are;
    a null removes one."""
    assert client.post(SB, json={"name": "rivalco"}).status_code == 201
    quotas = {"messages_per_second": 10, "devices": 5, "storage": 1000}
    assert client.patch(f"{SB}/rivalco", json={"quotas": quotas}).status_code == 200
    raised = client.patch(f"{SB}/rivalco", json={"quotas": {"devices": 50}})
    assert raised.status_code == 200, raised.text
    assert raised.json()["quotas"] == {"messages_per_second": 10, "devices": 50, "storage": 1000}
    lifted = client.patch(f"{SB}/rivalco", json={"quotas": {"storage": None}})
    assert lifted.json()["quotas"] == {"messages_per_second": 10, "devices": 50}
    assert client.get(f"{SB}/rivalco").json()["quotas"] == lifted.json()["quotas"]
