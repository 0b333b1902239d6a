"""The NGSI-LD form of an alert: a Smart Data Models `Alert` whose enumerated attributes hold
values of the data model's enums, with Dalgu's own kind beside them."""

from __future__ import annotations

import pytest

from dalgu.safety.alert import SUBCATEGORIES, Alert
from dalgu.safety.service import EPOCH

# smart-data-models/dataModel.Alert, Alert/schema.json: `subCategory` (the non-weather enum)
SDM_SUBCATEGORIES = frozenset(
    [
        "trafficJam",
        "carAccident",
        "carWrongDirection",
        "carStopped",
        "pothole",
        "roadClosed",
        "roadWorks",
        "hazardOnRoad",
        "injuredBiker",
        "pedestrianOnRoad",
        "bikerOnRoad",
        "tramApproaching",
        "crowdRisk",
        "flood",
        "tsunami",
        "coastalEvent",
        "earthquake",
        "rainfall",
        "highTemperature",
        "lowTemperature",
        "lowHumidity",
        "highHumidity",
        "highAtmosphericPressure",
        "losAtmosphericPressure",
        "heatWave",
        "coldWave",
        "ice",
        "snow",
        "wind",
        "fog",
        "tornado",
        "tropicalCyclone",
        "hurricane",
        "snow/ice",
        "badSeaState",
        "thunderstorms",
        "fireRisk",
        "avalancheRisk",
        "floodRisk",
        "airPollution",
        "waterPollution",
        "pollenConcentration",
        "asthmaAttack",
        "bumpedPatient",
        "fallenPatient",
        "heartAttack",
        "suspiciousAction",
        "robbery",
        "assault",
        "civilDisorder",
        "buildingFire",
        "forestFire",
        "noxiousWeed",
        "snail",
        "insect",
        "rodent",
        "bacteria",
        "microbe",
        "fungus",
        "mite",
        "virus",
        "nematodes",
        "irrigation",
        "fertilisation",
    ]
)


@pytest.mark.parametrize("kind", sorted(SUBCATEGORIES))
def test_every_alert_kind_is_written_with_the_data_models_enum_values(kind: str) -> None:
    alert = Alert("veh-1", None, kind, "some-subtype", "high", 0.9, 10.0, 12.0, {}, None)
    entity = alert.to_entity(EPOCH, "urn:ngsi-ld:Vehicle:veh-1", None)
    assert entity["subCategory"]["value"] in SDM_SUBCATEGORIES
    assert entity["category"]["value"] in ("traffic", "health")  # both in its enum
    assert entity["alertType"]["value"] == kind
    assert entity["alertSubType"]["value"] == "some-subtype"


def test_a_cardiac_alert_is_a_heart_attack_in_the_data_model() -> None:
    alert = Alert("veh-1", None, "cardiac", "asystole", "critical", 0.9, 10.0, 12.0, {}, None)
    entity = alert.to_entity(EPOCH, "urn:ngsi-ld:Vehicle:veh-1", None)
    assert (entity["category"]["value"], entity["subCategory"]["value"]) == (
        "health",
        "heartAttack",
    )
