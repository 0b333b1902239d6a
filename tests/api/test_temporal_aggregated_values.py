"""The values the aggregation methods give (tables 4.5.19.1-1 and -2): the average of Time
values, none for DateTime; a minimum or maximum that is an instance's own value; integers
kept as integers, those past 2^53 too."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

T = "/ngsi-ld/v1/temporal/entities"
ID = "urn:ngsi-ld:Thing:1"
#: the same period read from the hourly rollups (an origin on the hour) and from the instances
PATHS = {
    "rollups": {"timerel": "between", "timeAt": "2026-03-01T00:00:00Z"},
    "instances": {"timerel": "between", "timeAt": "2026-03-01T00:00:00.000001Z"},
}


def instance(value: Any, at: str) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": f"2026-03-01T{at}:00Z"}


def first_period(
    client: TestClient, attrs: dict[str, list[dict[str, Any]]], methods: str, path: str
) -> dict[str, dict[str, Any]]:
    assert client.post(T, json={"id": ID, "type": "Thing", **attrs}).status_code == 201
    response = client.get(
        f"{T}/{ID}",
        params={
            "options": "aggregatedValues",
            "aggrMethods": methods,
            "aggrPeriodDuration": "PT1H",
            "endTimeAt": "2026-03-01T01:00:00Z",
            **PATHS[path],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return {
        name: {method: body[name][method][0][0] for method in methods.split(",")} for name in attrs
    }


def timed(kind: str, text: str) -> dict[str, str]:
    return {"@type": kind, "@value": text}


@pytest.mark.parametrize("path", PATHS)
def test_avg_of_times_is_their_average_time_and_none_for_date_times(
    client: TestClient, path: str
) -> None:
    """Table 4.5.19.1-2, columns DateTime | Date | Time | URI: "avg | N/A | N/A | Calculate
    the average time inside the period (e.g. ... the time a car enters a given parking) | N/A"."""
    got = first_period(
        client,
        {
            "entered": [
                instance(timed("Time", "08:00:00"), "00:10"),
                instance(timed("Time", "10:00:00"), "00:20"),
                instance(timed("Time", "10:30:30"), "00:30"),
            ],
            "when": [
                instance(timed("DateTime", "2026-03-01T01:00:00Z"), "00:10"),
                instance(timed("DateTime", "2026-03-01T03:00:00Z"), "00:20"),
            ],
            "day": [instance(timed("Date", "2026-03-01"), "00:10")],
        },
        "avg,min,max",
        path,
    )
    assert got["entered"] == {
        "avg": timed("Time", "09:30:10"),
        "min": timed("Time", "08:00:00"),
        "max": timed("Time", "10:30:30"),
    }
    assert got["when"]["avg"] is None
    assert got["when"]["max"] == timed("DateTime", "2026-03-01T03:00:00Z")
    assert got["day"]["avg"] is None


@pytest.mark.parametrize("path", PATHS)
def test_min_max_and_sum_of_integers_are_integers(client: TestClient, path: str) -> None:
    got = first_period(
        client,
        {"count": [instance(41, "00:10"), instance(7, "00:20"), instance(66, "00:30")]},
        "min,max,sum",
        path,
    )["count"]
    assert got == {"min": 7, "max": 66, "sum": 114}
    assert all(isinstance(value, int) for value in got.values())


@pytest.mark.parametrize("path", PATHS)
def test_min_and_max_past_2_53_are_the_values_written(client: TestClient, path: str) -> None:
    """A double holds neither 2^53+1 nor 2^53+3: min and max were 2^53 and 2^53+4, values
    no instance ever held."""
    got = first_period(
        client,
        {"big": [instance(2**53 + 1, "00:10"), instance(2**53 + 3, "00:20")]},
        "min,max,sum",
        path,
    )["big"]
    assert got == {"min": 2**53 + 1, "max": 2**53 + 3, "sum": 2**54 + 4}


@pytest.mark.parametrize("path", PATHS)
def test_min_and_max_of_decimals_stay_decimals(client: TestClient, path: str) -> None:
    got = first_period(
        client,
        {"t": [instance(20.5, "00:10"), instance(19.25, "00:20")]},
        "min,max,sum",
        path,
    )["t"]
    assert got == {"min": 19.25, "max": 20.5, "sum": 39.75}
