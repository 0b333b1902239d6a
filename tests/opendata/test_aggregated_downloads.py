"""An aggregated dataset keeps downloading when its entities' periods outgrow one answer of
the temporal service: the download reads bounded parts and gives the rows that one answer
would, on both stores."""

from __future__ import annotations

import csv
import io

import pytest
from starlette.testclient import TestClient

from dalgu.opendata.exporters import csv_cell
from tests.opendata.conftest import publish_in_process, station

T = "/ngsi-ld/v1/temporal/entities"
#: the answer cap the test lowers the temporal service's to, and the periods a part holds
CAP = 60
PART = 40
#: (station, attribute, minute of the day, value): gaps longer than a part, attributes that
#: start and end at other periods than their entity's, readings at odd seconds
READINGS = [
    ("jung-1", "pm10", "10:00:30", 11.0),
    ("jung-1", "pm10", "10:07:10", 13.5),
    ("jung-1", "pm10", "10:07:50", 20.0),
    ("jung-1", "pm10", "11:59:00", 7.0),
    ("jung-1", "no2", "10:20:00", 3.0),
    ("jung-1", "no2", "10:21:15", 4.0),
    ("jung-2", "pm10", "10:03:05", 30.0),
    ("jung-2", "pm10", "10:04:00", 31.0),
    ("suseong-1", "pm10", "10:45:20", 1.0),
    ("suseong-1", "pm10", "12:30:00", 2.0),
    ("suseong-1", "pm10", "13:59:59", 3.0),
    ("suseong-1", "no2", "13:00:00", 5.0),
]
METHODS = ["avg", "max", "totalCount"]


def _seed_histories(client: TestClient) -> None:
    for name in ("jung-1", "jung-2", "suseong-1"):
        entity = station(name, 0)
        for attribute in ("pm10", "no2"):
            entity[attribute] = [
                {"type": "Property", "value": v, "observedAt": f"2026-12-01T{t}Z"}
                for s, a, t, v in READINGS
                if s == name and a == attribute
            ]
        del entity["owner"], entity["stationName"]
        response = client.post(T, json=entity)
        assert response.status_code in (201, 204), response.text


def _api_rows(client: TestClient, methods: list[str], since: str) -> list[dict[str, str]]:
    """The rows the temporal API gives from `since`, an answer per station, as the
    download's CSV writes them."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    columns = [f"{a}_{m}" for a in ("pm10", "no2") for m in methods]
    for name in ("jung-1", "jung-2", "suseong-1"):
        params = {
            "id": station(name, 0)["id"],
            "attrs": "pm10,no2",
            "options": "aggregatedValues",
            "aggrMethods": ",".join(methods),
            "aggrPeriodDuration": "PT1M",
            "timerel": "after",
            "timeAt": since,
        }
        response = client.get(T, params=params)
        assert response.status_code == 200, response.text
        for entity in response.json():
            for attribute in ("pm10", "no2"):
                for method in methods:
                    for value, start, end in entity.get(attribute, {}).get(method, []):
                        row = rows.setdefault(
                            (entity["id"], start),
                            {"id": entity["id"], "start": start, "end": end}
                            | dict.fromkeys(columns, ""),
                        )
                        row[f"{attribute}_{method}"] = csv_cell(value)
    return [rows[key] for key in sorted(rows)]


def _whole(client: TestClient, methods: list[str]) -> int:
    """The status of one answer over every station's periods (from 10:00)."""
    params = {
        "type": "AirQualityObserved",
        "attrs": "pm10,no2",
        "options": "aggregatedValues",
        "aggrMethods": ",".join(methods),
        "aggrPeriodDuration": "PT1M",
        "timerel": "after",
        "timeAt": "2026-12-01T10:00:00Z",
    }
    return client.get(T, params=params).status_code


def _download_rows(client: TestClient) -> list[dict[str, str]]:
    response = client.get("/opendata/dataset/daegu-air/download/daegu-air.csv")
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


@pytest.mark.parametrize(
    ("methods", "since"),
    [(["avg", "max"], "2026-12-01T10:00:00Z"), (["totalCount", "sum"], None)],
    ids=["since", "from-first-reading"],
)
def test_an_aggregation_beyond_one_answer_downloads_whole_in_bounded_parts(
    portal_client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
    methods: list[str],
    since: str | None,
) -> None:
    _seed_histories(portal_client)
    publish_in_process(
        portal_client,
        attributes=["pm10", "no2"],
        geometry_attribute=None,
        aggregate_period="PT1M",
        aggregate_methods=methods,
        **({"aggregate_since": since} if since else {}),
    )
    whole = _download_rows(portal_client)  # each page of entities in one answer
    assert len(whole) > 2 * CAP  # jung-1 alone has more periods than the lowered cap
    if since:  # the dataset's query, as the temporal API answers it (a station at a time)
        assert whole == _api_rows(portal_client, methods, since)
    monkeypatch.setattr("dalgu.store.periods.MAX_PERIODS", CAP)
    portal_client.app.state.dalgu.opendata.slice_periods = PART  # type: ignore[attr-defined]
    assert _whole(portal_client, methods) == 400  # more periods than one answer holds

    assert _download_rows(portal_client) == whole


@pytest.mark.parametrize("pseudonymised", [False, True])
def test_periods_of_a_fraction_of_a_second_come_in_time_order(
    portal_client: TestClient, pseudonymised: bool
) -> None:
    """An outside test: with `PT0.5S`, the period starting at 10:00:00Z came after the one
    starting at 10:00:00.500Z ('.' sorts before 'Z'); docs/opendata.md orders the rows by
    entity (or pseudonym), "then period": by time."""
    entity = station("jung-1", 0)
    entity["pm10"] = [
        {"type": "Property", "value": v, "observedAt": t}
        for v, t in ((1.0, "2026-12-01T10:00:00Z"), (2.0, "2026-12-01T10:00:02.200Z"))
    ]
    del entity["owner"], entity["stationName"]
    assert portal_client.post(T, json=entity).status_code in (201, 204)
    publish_in_process(
        portal_client,
        attributes=["pm10"],
        aggregate_period="PT0.5S",
        aggregate_methods=["totalCount"],
        pseudonymise_ids=pseudonymised,
    )
    starts = [row["start"] for row in _download_rows(portal_client)]
    assert starts == [
        "2026-12-01T10:00:00Z",
        "2026-12-01T10:00:00.500Z",
        "2026-12-01T10:00:01Z",
        "2026-12-01T10:00:01.500Z",
        "2026-12-01T10:00:02Z",
    ]
