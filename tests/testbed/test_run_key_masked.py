"""A sandbox key is shown once: runs, their reports and the HTML page show only its start."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from tests.testbed.test_conformance import PROFILE

SB = "/testbed/sandboxes"


def test_runs_and_their_reports_do_not_show_the_sandbox_key(client: TestClient) -> None:
    key = client.post(SB, json={"name": "firm1"}).json()["apiKeys"][0]["key"]
    firm = {"fiware-service": "firm1"}
    group = PROFILE.to_group(key)
    assert client.post("/iot/services", json={"services": [group]}, headers=firm).status_code == 201
    body = {"profile": "air-quality", "apikey": key, "duration": 0.3}
    started = client.post("/testbed/runs", json=body, headers=firm)
    assert started.status_code == 201, started.text
    assert started.json()["apikey"] == f"{key[:4]}…"
    run = f"/testbed/runs/{started.json()['id']}"
    deadline = time.monotonic() + 15
    while (doc := client.get(run, headers=firm)).json()["status"] != "finished":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    shown = [
        doc.text,
        client.get("/testbed/runs", headers=firm).text,
        client.get(f"{run}/report.html", headers=firm).text,
    ]
    assert all(key not in text for text in shown)
    assert doc.json()["report"]["apikey"] == f"{key[:4]}…"
