"""A subscription with `datasetId` watches the view of the entity its datasets make (clause
5.2.12: "the datasetIds of the Attribute instances to be selected for each matched
Attribute as per clause 4.5.5"; clause 4.5.5.1: "In case that no Attribute instances match
the provided datasetIds, then the Attribute shall not be returned"): a change of another
dataset's instance changes nothing in it and is not notified (it came as an entity without
attributes)."""

from __future__ import annotations

import itertools
import os
import queue
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.receiver import Receiver

S = "/ngsi-ld/v1/subscriptions"
E = "/ngsi-ld/v1/entities"
ID = "urn:ngsi-ld:T:1"
D1 = "urn:ngsi-ld:Dataset:d1"
_PORTS = itertools.count()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    r = Receiver(21800 + 25 * (index % 4) + next(_PORTS) % 25)  # this session's port range
    yield r
    r.close()


def subscribe(client: TestClient, receiver: Receiver, **members: Any) -> None:
    body = {
        "type": "Subscription",
        "entities": [{"type": "T"}],
        "datasetId": [D1],
        "notification": {"endpoint": {"uri": receiver.url}},
        **members,
    }
    assert client.post(S, json=body).status_code == 201


def m(value: int, dataset: str | None = None) -> dict[str, Any]:
    return {
        "m": {"type": "Property", "value": value, **({"datasetId": dataset} if dataset else {})}
    }


def received(receiver: Receiver) -> list[Any]:
    got = []
    while True:
        try:
            _, body = receiver.next(timeout=1.5)
        except queue.Empty:
            return got
        got.extend(body["data"])


@pytest.mark.parametrize("watched", [{"watchedAttributes": ["m"]}, {}])
def test_only_changes_of_its_datasets_are_notified(
    client: TestClient, receiver: Receiver, watched: dict[str, Any]
) -> None:
    subscribe(client, receiver, **watched)
    assert client.post(E, json={"id": ID, "type": "T", **m(1)}).status_code == 201
    assert client.patch(f"{E}/{ID}/attrs", json=m(2)).status_code == 204
    assert client.patch(f"{E}/{ID}/attrs", json=m(3, "urn:ngsi-ld:Dataset:d2")).status_code == 204
    assert client.patch(f"{E}/{ID}/attrs", json=m(4, D1)).status_code == 204
    assert client.patch(f"{E}/{ID}/attrs", json=m(5)).status_code == 204
    got = received(receiver)
    assert [entity.get("m", {}).get("value") for entity in got] == [4], got
    assert got[0]["m"]["datasetId"] == D1


def test_deleting_an_instance_of_its_dataset_is_notified(
    client: TestClient, receiver: Receiver
) -> None:
    subscribe(client, receiver, notificationTrigger=["attributeDeleted"])
    body = {"id": ID, "type": "T", "m": [m(1)["m"], m(2, D1)["m"]]}
    assert client.post(E, json=body).status_code == 201
    assert client.delete(f"{E}/{ID}/attrs/m").status_code == 204  # the default instance
    assert received(receiver) == []
    assert client.delete(f"{E}/{ID}/attrs/m", params={"datasetId": D1}).status_code == 204
    (got,) = received(receiver)
    assert "m" in got, got
    assert got["m"]["datasetId"] == D1
    assert got["m"]["value"] == "urn:ngsi-ld:null"
