"""`dalgu demo` publishes two example datasets over the simulated city and prints where they
are served; what it prints is what the server answers."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from pathlib import Path

from rich.console import Console
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.cli.demo import load_city, print_tour
from dalgu.settings import Settings
from tests.conftest import IN_PROCESS


def test_the_demo_publishes_de_identified_examples_and_prints_their_urls(tmp_path: Path) -> None:
    settings = Settings.load(sqlite_path=tmp_path / "demo.db", mqtt_broker="off", **IN_PROCESS)
    assert asyncio.run(load_city(settings, 60)) == 60
    out = io.StringIO()
    print_tour(Console(file=out, width=200), settings, 60)
    printed = out.getvalue()
    urls = [u for u in re.findall(r"https?://\S+", printed) if "/opendata/" in u]
    assert any(u.endswith("/opendata/catalog.jsonld") for u in urls)
    downloads = [u.rstrip("'") for u in urls if "/download/" in u]
    assert len(downloads) >= 6
    with TestClient(build_app(settings), base_url=settings.base_url) as client:
        names = client.get("/opendata/api/3/action/package_list").json()["result"]
        assert names == ["daegu-air-quality-hourly", "daegu-parking"]
        for url in downloads:
            assert client.get(url).status_code == 200, url
        parking = client.get(
            "/opendata/dataset/daegu-parking/download/daegu-parking.csv"
        ).text  # fmt: skip
        rows = list(csv.DictReader(io.StringIO(parking)))
        assert rows and {r["status"] for r in rows} <= {"free", "occupied", "closed", "unknown"}
        assert "refParkingSite" not in parking and "ParkingSite" not in parking
        air = client.get(
            "/opendata/dataset/daegu-air-quality-hourly/download/daegu-air-quality-hourly.csv"
        ).text
        hourly = list(csv.DictReader(io.StringIO(air)))
        assert hourly and all(float(r["pm10_max"]) >= float(r["pm10_avg"]) for r in hourly)
        assert all(r["start"].endswith(":00:00Z") for r in hourly)  # buckets on the hour
        assert "streetAddress" not in air and "Device" not in air
        # the NGSI-LD API resource works as published, without the city's context (an
        # outside test: it answered [] to GDAL, a link checker, CKAN's preview)
        package = client.get(
            "/opendata/api/3/action/package_show", params={"id": "daegu-parking"}
        ).json()["result"]
        ngsi = next(r for r in package["resources"] if r["format"] == "NGSI-LD")
        spots = client.get(ngsi["url"]).json()
        assert len(spots) == len(rows)
