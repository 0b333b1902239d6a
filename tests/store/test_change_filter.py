"""The outbox records a change only when a subscription of its tenant could match its entity's
type: a subscription on alerts does not copy every vehicle update into it, and every change a
subscription could be about is still recorded (and notified)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator

import asyncpg
import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.settings import Settings
from dalgu.store.change_filter import ChangeFilter, change_filter

E = "/ngsi-ld/v1/entities"
S = "/ngsi-ld/v1/subscriptions"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"


def _sub(**members: object) -> dict[str, object]:
    return {"id": "urn:ngsi-ld:Subscription:x", "type": "Subscription", **members}


def test_the_filter_keeps_the_selected_types_before_or_after_a_change() -> None:
    wanted = change_filter([_sub(entities=[{"type": "urn:t:Alert"}, {"type": "urn:t:Bus"}])])
    assert wanted == ChangeFilter(frozenset({"urn:t:Alert", "urn:t:Bus"}))
    alert = {"id": "urn:a", "type": ["urn:t:Alert"]}
    car = {"id": "urn:c", "type": ["urn:t:Car"]}
    assert wanted.wants(None, alert) and wanted.wants(alert, None)
    assert not wanted.wants(car, car) and not wanted.wants(None, car)
    assert wanted.wants(car, {**car, "type": ["urn:t:Car", "urn:t:Bus"]})  # a type added


@pytest.mark.parametrize(
    "subscription",
    [
        _sub(watchedAttributes=["urn:a:speed"]),  # no entity selector: any type
        _sub(entities=[{"type": "(Alert|Bus)"}]),  # a type selection, in its own terms
        _sub(entities=[{"type": "urn:t:Alert"}, {"type": "Bus,Car"}]),
    ],
)
def test_subscriptions_that_may_match_any_type_keep_every_change(subscription: dict) -> None:
    wanted = change_filter([subscription])
    assert wanted is not None and wanted.wants(None, {"id": "urn:c", "type": ["urn:t:Car"]})


def test_no_subscription_keeps_nothing() -> None:
    assert change_filter([]) is None


@pytest.fixture
def app(settings: Settings) -> Iterator[tuple[TestClient, Settings]]:
    """Either store, with no notifier to consume the outbox."""
    settings = settings.model_copy(update={"notifier": "off"})
    with TestClient(build_app(settings)) as client:
        yield client, settings


def _recorded(settings: Settings) -> list[str]:
    """The entity ids in the outbox, oldest first."""
    if settings.store == "sqlite":
        with sqlite3.connect(settings.sqlite_path) as db:
            return [entity_id for (entity_id,) in db.execute("SELECT entity_id FROM changes")]

    async def read() -> list[str]:
        conn = await asyncpg.connect(settings.postgres_dsn)
        try:
            rows = await conn.fetch("SELECT entity_id FROM changes ORDER BY ticket, seq")
            return [row[0] for row in rows]
        finally:
            await conn.close()

    return asyncio.run(read())


def _subscribe(client: TestClient, entities: list[dict[str, str]] | None, n: int) -> None:
    body: dict[str, object] = {
        "id": f"urn:ngsi-ld:Subscription:{n}",
        "type": "Subscription",
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    if entities is None:
        body["watchedAttributes"] = ["speed"]
    else:
        body["entities"] = entities
    assert client.post(S, json=body).status_code == 201


def _vehicle(client: TestClient, n: int, speed: int) -> None:
    vehicle = {
        "id": f"urn:ngsi-ld:Vehicle:{n}",
        "type": "Vehicle",
        "speed": {"type": "Property", "value": speed},
    }
    response = client.post("/ngsi-ld/v1/entityOperations/upsert", json=[vehicle])
    assert response.status_code in (201, 204), response.text


def test_the_outbox_records_only_what_a_subscription_could_match(
    app: tuple[TestClient, Settings],
) -> None:
    client, settings = app
    _vehicle(client, 1, 10)
    assert _recorded(settings) == []  # no subscription
    _subscribe(client, [{"type": "Alert"}], 1)
    _vehicle(client, 1, 20)
    _vehicle(client, 2, 30)
    assert _recorded(settings) == []  # vehicles: no subscription could match them
    alert = {
        "id": "urn:ngsi-ld:Alert:1",
        "type": "Alert",
        "severity": {"type": "Property", "value": "high"},
    }
    assert client.post(E, json=alert).status_code == 201
    assert _recorded(settings) == ["urn:ngsi-ld:Alert:1"]
    # a subscription on vehicles, made after the filter was first read: the next write counts
    _subscribe(client, [{"type": "Vehicle"}], 2)
    _vehicle(client, 1, 40)
    assert _recorded(settings) == ["urn:ngsi-ld:Alert:1", "urn:ngsi-ld:Vehicle:1"]
    # gone again: vehicles are left out again
    assert client.delete(f"{S}/urn:ngsi-ld:Subscription:2").status_code == 204
    _vehicle(client, 1, 50)
    assert len(_recorded(settings)) == 2
    # watched attributes alone: any entity
    _subscribe(client, None, 3)
    _vehicle(client, 2, 60)
    assert _recorded(settings)[-1] == "urn:ngsi-ld:Vehicle:2"


def test_the_filter_is_per_tenant(app: tuple[TestClient, Settings]) -> None:
    client, settings = app
    _subscribe(client, [{"type": "Vehicle"}], 1)  # in the default tenant
    vehicle = {"id": "urn:ngsi-ld:Vehicle:9", "type": "Vehicle"}
    other = {"NGSILD-Tenant": "other"}
    assert client.post(E, json=vehicle, headers=other).status_code == 201
    assert _recorded(settings) == []
    assert client.post(E, json=vehicle).status_code == 201
    assert _recorded(settings) == ["urn:ngsi-ld:Vehicle:9"]
