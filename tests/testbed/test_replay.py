"""Replaying recorded telemetry (JSON Lines, CSV) through a live gateway."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dalgu.cli.app import app as cli
from dalgu.errors import BadRequestData
from dalgu.settings import Settings
from dalgu.testbed.replay import RecordedMessage, encode, parse_recording, replay
from dalgu.testbed.simulator import Endpoints
from tests.ports import free_port, serving

E = "/ngsi-ld/v1/entities"
LINES = """{"time": "2026-11-25T08:00:01Z", "device": "aq-2", "measures": {"t": 13}}
{"time": "2026-11-25T08:00:00Z", "device": "aq-1", "measures": {"t": 12.5, "h": 40}}
{"time": 1795593602, "device": "aq-1", "measures": {"t": 12.7}}
"""
CSV = "time,device,t,h\n2026-11-25T08:00:00Z,aq-1,12.5,40\n2026-11-25T08:00:02Z,aq-2,13,\n"


def test_recordings_parse_in_time_order() -> None:
    messages = parse_recording(LINES)
    assert [m.device for m in messages] == ["aq-1", "aq-2", "aq-1"]
    assert messages[0].measures == {"t": 12.5, "h": 40}
    rows = parse_recording(CSV)
    assert rows[1] == RecordedMessage(rows[0].at + 2, "aq-2", {"t": "13"})
    assert encode(rows[0], 0.0, "ul") == b"1970-01-01T00:00:00.000Z|t|12.5|h|40"
    assert (
        encode(rows[0], 0.0, "json")
        == b'{"t":"12.5","h":"40","TimeInstant":"1970-01-01T00:00:00.000Z"}'
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no messages"),
        ('{"time": "soon", "device": "a", "measures": {}}', "neither ISO 8601"),
        ('{"time": 1, "device": "a/b", "measures": {}}', "device"),
        ('{"time": 1, "device": "a"}', "needs time, device and measures"),
        ("{not json", "not JSON"),
        ("when,who\n1,a\n", "time and device columns"),
    ],
)
def test_bad_recordings(text: str, message: str) -> None:
    with pytest.raises(BadRequestData, match=message):
        parse_recording(text)


def test_replay_reaches_the_broker_and_keeps_the_gaps(settings: Settings, tmp_path: Path) -> None:
    def ports() -> dict[str, int]:
        return {"iot_south_port": free_port(), "iot_north_port": free_port()}

    with serving(settings, ports) as (client, configured):
        south = configured.iot_south_port
        group = {
            "apikey": "rec",
            "entity_type": "AirQuality",
            "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
        }
        assert client.post("/iot/services", json={"services": [group]}).status_code == 201
        started = time.monotonic()
        report = asyncio.run(
            replay(
                parse_recording(LINES),
                apikey="rec",
                transport="http",
                payload="json",
                speed=4.0,
                endpoints=Endpoints(http_port=south),
            )
        )
        assert report.sent == 3 and report.failed == 0
        assert time.monotonic() - started >= 0.45  # 2 s recorded, 4× faster
        entity = client.get(f"{E}/urn:ngsi-ld:AirQuality:aq-1").json()
        assert entity["temperature"]["value"] == 12.7
        recording = tmp_path / "drive.csv"
        recording.write_text(CSV)
        result = CliRunner().invoke(
            cli,
            [
                "replay",
                str(recording),
                "--apikey",
                "rec",
                "--transport",
                "http",
                "--speed",
                "100",
                "--http-port",
                str(south),
            ],
        )
        assert result.exit_code == 0, result.output
        assert "2 sent, 0 failed" in result.output
