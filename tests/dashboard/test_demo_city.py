"""`make demo`'s city on the dashboard: the URL the demo prints answers with the city's types,
its located entities on the map and the devices' Korean names."""

from __future__ import annotations

import asyncio
import io
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.cli.demo import load_city, print_tour
from dalgu.settings import Settings
from dalgu.simulation import city_entities
from dalgu.simulation.wifi import BROKEN, ZONES, wifi_entities
from tests.conftest import IN_PROCESS
from tests.dashboard.html import parse
from tests.dashboard.test_dashboard import markers, section


def test_the_demo_prints_the_dashboard_and_it_shows_the_city(tmp_path: Path) -> None:
    settings = Settings.load(sqlite_path=tmp_path / "demo.db", mqtt_broker="off", **IN_PROCESS)
    assert asyncio.run(load_city(settings, 60)) == 60
    out = io.StringIO()
    print_tour(Console(file=out, width=200), settings, 60)
    (url,) = re.findall(r"(https?://\S+/dashboard)\s", out.getvalue())
    city = city_entities(60) + wifi_entities(now=datetime.now(UTC))
    expected = Counter(e["type"] for e in city)
    with TestClient(build_app(settings), base_url=settings.base_url) as client:
        answer = client.get(url)
        assert answer.status_code == 200
        doc = parse(answer.text)
    assert doc.first("html").attrs["lang"] == "ko"
    counts = {row[0]: int(row[1]) for row in section(doc, "overview-heading").first("table").rows()}
    assert counts == dict(expected)
    assert len(markers(doc)) == sum(1 for e in city if "location" in e)
    names = {row[0] for row in section(doc, "map-heading").first("table").rows()}
    korean = {e["name"]["languageMap"]["ko"] for e in city if e["type"] == "Device"}
    assert korean and korean <= names
    # the Wi-Fi zones: the unit that stopped reporting is down, its zone partly
    zones = {row[0]: row for row in section(doc, "wifi-heading").first("table").rows()}
    assert len(zones) == len(ZONES)
    assert zones["서문시장 Seomun Market"][1:3] == ["일부 장애", "3/4"]
    assert zones["서문시장 Seomun Market"][5] == BROKEN.rsplit(":", 1)[-1]
    assert {row[1] for name, row in zones.items() if "Seomun" not in name} == {"정상"}
