"""What the feed publishes for a change: its subject, its id and its body."""

from __future__ import annotations

import random

import orjson

from dalgu.feed.message import feed_messages, tenant_token, token, type_token
from dalgu.ldcontext.resolver import core_terms
from dalgu.store.base import ChangeRecord

DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
T = "2026-11-25T09:00:00.000Z"


def vehicle(speed: int) -> dict[str, object]:
    return {
        "id": "urn:ngsi-ld:Vehicle:1",
        "type": [f"{DEFAULT}Vehicle"],
        "createdAt": T,
        "modifiedAt": T,
        f"{DEFAULT}speed": [{"type": "Property", "value": speed}],
    }


def test_subject_tokens_are_safe() -> None:
    assert token("daegu.city *>") == "daegu_city___"
    assert token("") == "_"
    assert type_token("https://smartdatamodels.org/dataModel.Transportation/Vehicle") == "Vehicle"
    assert type_token("urn:x:Bus") == "Bus"
    assert type_token("https://example.org/ns#Tram") == "Tram"


def test_each_tenant_has_a_subject_token_of_its_own() -> None:
    """Tenant names that a plain replacement made one (`a.b`, `a_b`, `a:b`, `a/b`; `_default`
    and the default tenant) keep apart: a consumer of one tenant's subjects must never get
    another tenant's entities."""
    names = ["", "_default", "default", "a.b", "a_b", "a:b", "a/b", "a__b", "a_2Eb", "a-b"]
    tokens = [tenant_token(n) for n in names]
    assert tokens[:6] == ["_default", "__default", "default", "a_2Eb", "a__b", "a_3Ab"]
    assert len(set(tokens)) == len(names)
    assert all(not set(t) - set(_TOKEN_CHARS) for t in tokens)
    rng = random.Random(5)
    alphabet = "ab_.:/-0"  # the separators a tenant name may hold, and what their escapes use
    drawn = {"".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(20_000)}
    assert len({tenant_token(n) for n in drawn}) == len(drawn)


_TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


def test_each_change_is_one_message_in_order_with_a_unique_id() -> None:
    changes = [
        ChangeRecord(7, "", "urn:ngsi-ld:Vehicle:1", None, vehicle(3), T),
        ChangeRecord(8, "daegu", "urn:ngsi-ld:Vehicle:1", vehicle(3), vehicle(5), T),
        ChangeRecord(8, "daegu", "urn:ngsi-ld:Vehicle:1", vehicle(5), None, T),  # same commit
    ]
    messages = feed_messages("dalgu.changes", changes, core_terms())
    assert [m.subject for m in messages] == [
        "dalgu.changes._default.Vehicle",
        "dalgu.changes.daegu.Vehicle",
        "dalgu.changes.daegu.Vehicle",
    ]
    assert [m.msg_id for m in messages] == [f"7.0@{T}", f"8.0@{T}", f"8.1@{T}"]
    bodies = [orjson.loads(m.body) for m in messages]
    assert [b["operation"] for b in bodies] == ["create", "update", "delete"]
    assert bodies[1] == {
        "id": "8.0",
        "tenant": "daegu",
        "entityId": "urn:ngsi-ld:Vehicle:1",
        "entityType": ["Vehicle"],
        "operation": "update",
        "at": T,
        "before": {
            "id": "urn:ngsi-ld:Vehicle:1",
            "type": "Vehicle",
            "createdAt": T,
            "modifiedAt": T,
            "speed": {"type": "Property", "value": 3},
        },
        "after": {
            "id": "urn:ngsi-ld:Vehicle:1",
            "type": "Vehicle",
            "createdAt": T,
            "modifiedAt": T,
            "speed": {"type": "Property", "value": 5},
        },
    }
    assert bodies[2]["after"] is None and bodies[2]["before"]["speed"]["value"] == 5
