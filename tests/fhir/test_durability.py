"""Acknowledged FHIR writes, and their AuditEvents, survive kill -9 of the server."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from tests.fhir.conftest import ADMIN, observation, patient
from tests.ports import free_port
from tests.server import kill_server, start_server


def test_acknowledged_fhir_writes_survive_kill_9(tmp_path: Path, dsn: str | None) -> None:
    db, port = tmp_path / "dalgu.db", free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    server = start_server(db, port, postgres_dsn=dsn)
    try:
        created = httpx.put(f"{base}/Patient/p1", json={**patient(), "id": "p1"}, headers=ADMIN)
        assert created.status_code == 201
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": observation("p1", at=f"2024-03-01T10:{m:02d}:00Z"),
                    "request": {"method": "POST", "url": "Observation"},
                }
                for m in range(30)
            ],
        }
        assert httpx.post(base, json=bundle, headers=ADMIN).status_code == 200
    finally:
        kill_server(server)
    server = start_server(db, port, postgres_dsn=dsn)
    try:
        found = httpx.get(f"{base}/Observation?patient=p1&_summary=count", headers=ADMIN).json()
        assert found["total"] == 30
        audit = httpx.get(f"{base}/AuditEvent?subtype=transaction", headers=ADMIN).json()
        assert audit["total"] == 1
    finally:
        kill_server(server, signal.SIGTERM)
