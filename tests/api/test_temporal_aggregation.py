"""The aggregated temporal representation (clause 4.5.19): every period of the query's range,
the methods over values of every type (tables 4.5.19.1-1 to -3), each attribute's type."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

T = "/ngsi-ld/v1/temporal/entities"
ID = "urn:ngsi-ld:Thing:1"
EVERY = "totalCount,distinctCount,sum,avg,min,max,stddev,sumsq"
#: the same periods read from the hourly rollups (an origin on the hour) and from the instances
PATHS = {
    "rollups": {"timerel": "between", "timeAt": "2026-03-01T00:00:00Z"},
    "instances": {"timerel": "between", "timeAt": "2026-03-01T00:00:00.000001Z"},
}


def instance(value: Any, at: str, kind: str = "Property") -> dict[str, Any]:
    member = {"Relationship": "object", "LanguageProperty": "languageMap"}.get(kind, "value")
    return {"type": kind, member: value, "observedAt": f"2026-03-01T{at}:00Z"}


def create(client: TestClient, **attrs: list[dict[str, Any]]) -> None:
    assert client.post(T, json={"id": ID, "type": "Thing", **attrs}).status_code == 201


def aggregated(
    client: TestClient, methods: str, period: str = "PT1H", **params: str
) -> dict[str, Any]:
    response = client.get(
        f"{T}/{ID}",
        params={
            "options": "aggregatedValues",
            "aggrMethods": methods,
            "aggrPeriodDuration": period,
            **params,
        },
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def values(member: dict[str, Any], method: str) -> list[Any]:
    return [period[0] for period in member[method]]


# --- every period of the range (clause 4.5.19.0) ----------------------------------------------


@pytest.mark.parametrize("period", ["PT1H", "PT2H", "PT30M"])
def test_between_lists_every_period_of_its_range_those_without_instances_too(
    client: TestClient, period: str
) -> None:
    create(client, power=[instance(4, "02:10"), instance(8, "02:40"), instance(6, "05:20")])
    power = aggregated(
        client,
        "totalCount,distinctCount,avg,max",
        period,
        timerel="between",
        timeAt="2026-03-01T00:00:00Z",
        endTimeAt="2026-03-01T08:00:00Z",
    )["power"]
    size = {"PT1H": 1, "PT2H": 2, "PT30M": 0.5}[period]
    count = int(8 / size)
    assert len(power["totalCount"]) == count
    assert power["avg"][0][1] == "2026-03-01T00:00:00Z"
    assert power["avg"][-1][2] == "2026-03-01T08:00:00Z"
    full = {int(2 / size): (2, 6), int(5 / size): (1, 6)}  # period: (count, avg)
    if period == "PT30M":
        full = {4: (1, 4), 5: (1, 8), 10: (1, 6)}
    assert values(power, "totalCount") == [full.get(n, (0,))[0] for n in range(count)]
    assert values(power, "distinctCount") == [full.get(n, (0,))[0] for n in range(count)]
    assert values(power, "avg") == [full[n][1] if n in full else None for n in range(count)]
    assert values(power, "max")[0] is None


@pytest.mark.parametrize("time_at", ["2026-03-01T00:00:00Z", "2026-03-01T00:30:00Z"])
def test_after_lists_from_the_first_period_with_an_instance_to_the_last(
    client: TestClient, time_at: str
) -> None:
    """Periods counted from timeAt, listed from the first that holds an instance (as the
    ETSI suite's 021_17 expects) to the last, the empty ones between included."""
    create(client, power=[instance(1, "02:40"), instance(2, "04:45")])
    power = aggregated(client, "totalCount,sum", timerel="after", timeAt=time_at)["power"]
    assert values(power, "totalCount") == [1, 0, 1]
    assert values(power, "sum") == [1, None, 2]
    minute = time_at[14:16]
    assert power["sum"][0][1:] == [f"2026-03-01T02:{minute}:00Z", f"2026-03-01T03:{minute}:00Z"]
    assert power["sum"][-1][1:] == [f"2026-03-01T04:{minute}:00Z", f"2026-03-01T05:{minute}:00Z"]


def test_before_starts_with_the_first_instance_and_ends_at_time_at(client: TestClient) -> None:
    create(client, power=[instance(1, "01:00"), instance(2, "02:30")])
    power = aggregated(client, "totalCount,min", timerel="before", timeAt="2026-03-01T06:00:00Z")[
        "power"
    ]
    assert values(power, "totalCount") == [1, 1, 0, 0, 0]
    assert values(power, "min") == [1, 2, None, None, None]
    assert power["min"][0][1:] == ["2026-03-01T01:00:00Z", "2026-03-01T02:00:00Z"]
    assert power["min"][-1][1:] == ["2026-03-01T05:00:00Z", "2026-03-01T06:00:00Z"]


def test_without_timerel_the_gaps_between_instances_are_listed(client: TestClient) -> None:
    create(client, power=[instance(1, "01:00"), instance(2, "03:30")])
    power = aggregated(client, "avg,totalCount")["power"]
    assert values(power, "totalCount") == [1, 0, 1]
    assert values(power, "avg") == [1, None, 2]


@pytest.mark.parametrize(
    "params",
    [
        {
            "timerel": "between",
            "timeAt": "2000-01-01T00:00:00Z",
            "endTimeAt": "2026-01-01T00:00:00Z",
        },
        {"timerel": "before", "timeAt": "2099-01-01T00:00:00Z"},
    ],
)
def test_a_query_for_millions_of_periods_is_a_400(
    client: TestClient, params: dict[str, str]
) -> None:
    create(client, power=[instance(1, "01:00")])
    response = client.get(
        f"{T}/{ID}",
        params={
            "options": "aggregatedValues",
            "aggrMethods": "totalCount",
            "aggrPeriodDuration": "PT1S",
            **params,
        },
    )
    assert response.status_code == 400, response.text[:200]
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


@pytest.mark.parametrize("timerel", ["between", "after"])
def test_the_cap_counts_every_method_of_every_period(client: TestClient, timerel: str) -> None:
    """PT1S over 11 days is 950,400 periods, under the 1,000,000 an answer may hold; with the
    eight methods it was 7.6 million values, ~400 MB of JSON and ~1 GB of the worker for one
    GET (an outside test). The cap is on values: periods x methods, over every attribute."""
    create(
        client,
        power=[
            {"type": "Property", "value": 1, "observedAt": "2026-02-20T00:00:00Z"},
            {"type": "Property", "value": 2, "observedAt": "2026-03-02T23:59:59Z"},
        ],
    )
    span = {"timerel": timerel, "timeAt": "2026-02-20T00:00:00Z"}
    if timerel == "between":
        span["endTimeAt"] = "2026-03-03T00:00:00Z"
    every = client.get(
        f"{T}/{ID}",
        params={
            "options": "aggregatedValues",
            "aggrMethods": EVERY,
            "aggrPeriodDuration": "PT1S",
            **span,
        },
    )
    assert every.status_code == 400, every.text[:200]
    assert "8 methods" in every.json()["detail"]
    one = client.get(
        f"{T}/{ID}",
        params={
            "options": "aggregatedValues",
            "aggrMethods": "max",
            "aggrPeriodDuration": "PT10S",
            **span,
        },
    )
    assert one.status_code == 200, one.text[:200]
    assert len(one.json()["power"]["max"]) == 95_040


def test_after_from_long_ago_lists_from_the_first_instance_without_the_periods_before(
    client: TestClient,
) -> None:
    """timeAt 56 years of seconds before the instance: the answer is its one period, made
    without making the 1.8 billion empty ones before it."""
    create(client, power=[instance(1, "01:00")])
    params = {
        "options": "aggregatedValues",
        "aggrMethods": "totalCount,sum",
        "aggrPeriodDuration": "PT1S",
        "timerel": "after",
        "timeAt": "1970-01-01T00:00:00Z",
    }
    response = client.get(f"{T}/{ID}", params=params)
    assert response.status_code == 200, response.text[:200]
    power = response.json()["power"]
    assert power["sum"] == [[1, "2026-03-01T01:00:00Z", "2026-03-01T01:00:01Z"]]
    assert values(power, "totalCount") == [1]


# --- the type of the aggregated member (clause 4.5.19.0) ----------------------------------


def test_each_member_is_labelled_with_its_attribute_type(client: TestClient) -> None:
    create(
        client,
        owner=[instance("urn:ngsi-ld:Person:1", "00:10", "Relationship")],
        name=[instance({"en": "pump"}, "00:10", "LanguageProperty")],
        power=[instance(1, "00:10")],
    )
    found = aggregated(client, "totalCount")
    assert found["owner"]["type"] == "Relationship"
    assert found["name"]["type"] == "LanguageProperty"
    assert found["power"]["type"] == "Property"


# --- methods over values of every type (tables 4.5.19.1-1 to -3) ------------------------------


def methods_over(
    client: TestClient, path: str, readings: list[dict[str, Any]]
) -> dict[str, list[Any]]:
    """Every method over `readings` (all within the first hour), on one aggregation path."""
    create(client, it=readings)
    member = aggregated(client, EVERY, endTimeAt="2026-03-01T02:00:00Z", **PATHS[path])["it"]
    return {method: values(member, method) for method in EVERY.split(",")}


@pytest.mark.parametrize("path", PATHS)
def test_strings_have_lexicographic_min_max_and_counts(client: TestClient, path: str) -> None:
    got = methods_over(
        client,
        path,
        [instance(v, t) for v, t in (("pear", "00:10"), ("apple", "00:20"), ("pear", "00:30"))],
    )
    assert got["min"] == ["apple", None]
    assert got["max"] == ["pear", None]
    assert got["totalCount"] == [3, 0]
    assert got["distinctCount"] == [2, 0]
    for method in ("sum", "avg", "stddev", "sumsq"):
        assert got[method] == [None, None], method


@pytest.mark.parametrize("path", PATHS)
def test_booleans_count_as_one_and_zero(client: TestClient, path: str) -> None:
    got = methods_over(
        client,
        path,
        [instance(v, t) for v, t in ((True, "00:10"), (False, "00:20"), (True, "00:30"))],
    )
    assert got["sum"][0] == 2
    assert got["avg"][0] == pytest.approx(2 / 3)
    assert (got["min"][0], got["max"][0]) == (0, 1)
    assert got["sumsq"][0] == 2
    assert got["stddev"][0] == pytest.approx((1 / 3) ** 0.5)
    assert (got["totalCount"][0], got["distinctCount"][0]) == (3, 2)


@pytest.mark.parametrize("path", PATHS)
def test_arrays_aggregate_their_sizes(client: TestClient, path: str) -> None:
    got = methods_over(
        client,
        path,
        [instance(v, t) for v, t in (([1, 2], "00:10"), ([3], "00:20"), ([1, 2], "00:30"))],
    )
    assert (got["sum"][0], got["min"][0], got["max"][0]) == (5, 1, 2)
    assert got["avg"][0] == pytest.approx(5 / 3)
    assert (got["totalCount"][0], got["distinctCount"][0]) == (3, 2)
    assert (got["stddev"][0], got["sumsq"][0]) == (None, None)


@pytest.mark.parametrize("path", PATHS)
def test_objects_are_only_counted(client: TestClient, path: str) -> None:
    got = methods_over(client, path, [instance({"a": n % 2}, f"00:{n}0") for n in range(1, 4)])
    assert (got["totalCount"][0], got["distinctCount"][0]) == (3, 2)
    for method in ("sum", "avg", "min", "max", "stddev", "sumsq"):
        assert got[method][0] is None, method


@pytest.mark.parametrize("path", PATHS)
def test_date_times_have_temporal_min_max_and_no_average(client: TestClient, path: str) -> None:
    """Table 4.5.19.1-2: avg is N/A for DateTime (it averages Time values)."""

    def at(text: str) -> dict[str, str]:
        return {"@type": "DateTime", "@value": text}

    got = methods_over(
        client,
        path,
        [
            instance(at("2026-02-01T10:00:00Z"), "00:10"),
            instance(at("2026-01-01T10:00:00Z"), "00:20"),
            instance(at("2026-01-01T12:00:00Z"), "00:30"),
        ],
    )
    assert got["min"][0] == at("2026-01-01T10:00:00Z")
    assert got["max"][0] == at("2026-02-01T10:00:00Z")
    assert got["avg"][0] is None
    assert (got["totalCount"][0], got["distinctCount"][0]) == (3, 3)
    assert (got["sum"][0], got["stddev"][0], got["sumsq"][0]) == (None, None, None)


@pytest.mark.parametrize("path", PATHS)
def test_relationships_count_their_distinct_targets(client: TestClient, path: str) -> None:
    got = methods_over(
        client,
        path,
        [
            instance(f"urn:ngsi-ld:Person:{n}", t, "Relationship")
            for n, t in ((1, "00:10"), (2, "00:20"), (1, "00:30"))
        ],
    )
    assert (got["totalCount"][0], got["distinctCount"][0]) == (3, 2)
    for method in ("sum", "avg", "min", "max", "stddev", "sumsq"):
        assert got[method][0] is None, method


@pytest.mark.parametrize("path", PATHS)
def test_vocab_properties_count_their_distinct_uris_without_min_or_max(
    client: TestClient, path: str
) -> None:
    """Table 4.5.19.1-2 (other data types), column URI: "distinctCount Calculate the count of
    distinct values inside the period", "max ... N/A", "min ... N/A", and N/A for avg, stddev,
    sum, sumsq. A VocabProperty's value is a URI; its max and min were the expanded IRIs."""
    got = methods_over(
        client,
        path,
        [
            {
                "type": "VocabProperty",
                "vocab": f"http://ex.org/{v}",
                "observedAt": f"2026-03-01T{t}:00Z",
            }
            for v, t in (("Red", "00:10"), ("Blue", "00:20"), ("Red", "00:30"))
        ],
    )
    assert (got["totalCount"][0], got["distinctCount"][0]) == (3, 2)
    for method in ("sum", "avg", "min", "max", "stddev", "sumsq"):
        assert got[method][0] is None, method
