"""Which registrations claim what (clause 4.3.6), how bodies split and entities merge."""

from __future__ import annotations

from typing import Any

from dalgu.federation.consumption import merge, restricted_params
from dalgu.federation.operations import offered
from dalgu.federation.provision import split_body
from dalgu.federation.routing import Claim, claims, live
from dalgu.ldcontext.resolver import core_terms

D = "https://uri.etsi.org/ngsi-ld/default-context/"
V1 = "urn:ngsi-ld:Vehicle:V1"


def reg(mode: str = "inclusive", names: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"entities": [extra.pop("entity", {"type": D + "Vehicle"})]}
    if names:
        info["propertyNames"] = [D + n for n in names]
    return {
        "id": f"urn:r:{mode}",
        "information": [info],
        "endpoint": "http://cs:1026",
        "mode": mode,
        **extra,
    }


def test_operation_groups_expand_and_default_to_federation_ops() -> None:
    assert "createEntity" not in offered(reg())
    assert {"retrieveEntity", "queryBatch"} <= offered(reg())
    assert "createEntity" in offered(reg(operations=["redirectionOps"]))
    assert offered(reg(operations=["updateOps"])) == {
        "updateEntity",
        "updateAttrs",
        "replaceEntity",
        "replaceAttrs",
    }


def test_claims_match_type_id_and_pattern() -> None:
    vehicle = [D + "Vehicle"]
    by_id = reg(
        "exclusive",
        ["speed"],
        entity={"id": V1, "type": D + "Vehicle"},
        operations=["redirectionOps"],
    )
    by_pattern = reg(
        "redirect",
        entity={"idPattern": "^urn:ngsi-ld:Vehicle:V", "type": D + "Vehicle"},
        operations=["redirectionOps"],
    )
    assert [c.registration for c in claims([by_id], "createEntity", V1, vehicle)] == [by_id]
    assert claims([by_id], "createEntity", "urn:ngsi-ld:Vehicle:X", vehicle) == []
    assert claims([by_id], "createEntity", V1, [D + "Bus"]) == []
    assert len(claims([by_pattern], "createEntity", V1, None)) == 1  # types not known: any
    assert claims([by_pattern], "createEntity", "urn:x:V1", vehicle) == []
    (claim,) = claims([by_id], "createEntity", V1, vehicle)
    assert claim.attrs == {D + "speed"} and claim.proxied and claim.offers


def test_who_is_left_out() -> None:
    vehicle = [D + "Vehicle"]
    # an inclusive registration without the operation is not asked; a proxied one is a refusal
    assert claims([reg()], "createEntity", V1, vehicle) == []
    (refused,) = claims([reg("redirect")], "createEntity", V1, vehicle)
    assert not refused.offers
    # auxiliary registrations count for reads only
    aux = reg("auxiliary", operations=["retrieveOps"])
    assert claims([aux], "retrieveEntity", V1, vehicle) == []
    assert len(claims([aux], "retrieveEntity", V1, vehicle, reads=True)) == 1
    # expired ones, and those whose endpoint the request passed
    assert live([reg(expiresAt="2000-01-01T00:00:00Z")], "") == []
    assert live([reg()], "1.1 cs:1026") == []
    assert len(live([reg()], "1.1 other:1026")) == 1


def test_a_body_splits_by_claim() -> None:
    exclusive = Claim(reg("exclusive", ["speed"]), frozenset({D + "speed"}), True)
    inclusive = Claim(reg(), None, True)
    body = {"id": V1, "type": "Vehicle", "speed": {"value": 1}, "brand": {"value": "Kia"}}
    split = split_body(body, core_terms(), [exclusive, inclusive])
    assert split.local == {"id": V1, "type": "Vehicle", "brand": {"value": "Kia"}}
    assert [part for _, part in split.forwarded] == [
        {"id": V1, "type": "Vehicle", "speed": {"value": 1}},
        body,
    ]
    whole = Claim(reg("redirect"), None, True)
    assert split_body(body, core_terms(), [whole]).local is None
    refused = Claim(reg("exclusive", ["speed"]), frozenset({D + "speed"}), False)
    split = split_body(body, core_terms(), [refused])
    assert split.refused == [refused] and split.forwarded == []
    assert split.local == {"id": V1, "type": "Vehicle", "brand": {"value": "Kia"}}


def test_merge_by_dataset_id_and_observation() -> None:
    def prop(value: int, at: str = "", dataset: str | None = None) -> dict[str, Any]:
        instance: dict[str, Any] = {"type": "Property", "value": value}
        if at:
            instance["observedAt"] = at
        if dataset:
            instance["datasetId"] = dataset
        return instance

    local = {"id": V1, "type": [D + "Vehicle"], D + "speed": [prop(1, "2026-01-01T00:00:00Z")]}
    remote = {
        "id": V1,
        "type": [D + "Car"],
        D + "speed": [prop(2, "2026-01-02T00:00:00Z"), prop(3, dataset="urn:d:gps")],
        D + "brand": [prop(4)],
    }
    merged = merge(local, remote, Claim(reg(), None, True))
    assert merged["type"] == [D + "Vehicle", D + "Car"]
    assert [i["value"] for i in merged[D + "speed"]] == [2, 3]  # the later observation wins
    assert merged[D + "brand"] == [prop(4)]
    aux = merge(local, remote, Claim(reg("auxiliary"), None, True))
    assert [i["value"] for i in aux[D + "speed"]] == [1]  # never over what is held here
    only_speed = merge(None, remote, Claim(reg(), frozenset({D + "speed"}), True))
    assert D + "brand" not in only_speed


def test_forwarded_query_respects_the_registration() -> None:
    claim = Claim(
        reg("exclusive", ["speed"], entity={"id": V1, "type": D + "Vehicle"}),
        frozenset({D + "speed"}),
        True,
    )
    given = [("type", "Vehicle"), ("limit", "5"), ("local", "false")]
    assert restricted_params(given, claim, core_terms()) == [
        ("type", "Vehicle"),
        ("id", V1),
        ("attrs", "speed"),
    ]
    asked = [("type", "Vehicle"), ("attrs", "speed,brand")]
    assert restricted_params(asked, claim, core_terms()) == [
        ("type", "Vehicle"),
        ("attrs", "speed"),
        ("id", V1),
    ]


def test_a_registration_whose_alias_the_request_passed_is_not_followed() -> None:
    aliased = reg(contextSourceAlias="broker-b")
    assert live([aliased], "1.1 a:1026, 1.1 broker-b") == []
    assert live([aliased], "1.1 a:1026, 1.1 broker-bb") == [aliased]  # whole hops only
