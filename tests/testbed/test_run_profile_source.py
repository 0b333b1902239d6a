"""`POST /testbed/runs` takes a shipped profile's name or the profile itself (an object, YAML
or JSON text), never a path on the server: files are the CLI's, which sends their content."""

from __future__ import annotations

from pathlib import Path

import orjson
from starlette.testclient import TestClient

from tests.testbed.test_conformance import PROFILE

FIRM = {"fiware-service": "firm1"}


def provision(client: TestClient) -> None:
    group = PROFILE.to_group("k-src")
    assert client.post("/iot/services", json={"services": [group]}, headers=FIRM).status_code == 201


def start(client: TestClient, profile: object) -> tuple[int, str]:
    answer = client.post(
        "/testbed/runs", json={"profile": profile, "apikey": "k-src", "duration": 0.2}, headers=FIRM
    )
    return answer.status_code, answer.text


def test_a_server_path_is_never_opened(client: TestClient, tmp_path: Path) -> None:
    """docs/testbed.md: the run's `profile` is a shipped name, a profile object or its text.
    A client naming a file on the server learns nothing of it: neither that it exists, nor
    its shape, nor its lines (a YAML error quoted them back)."""
    provision(client)
    good = tmp_path / "good.yaml"
    good.write_text(PROFILE.model_dump_json())
    secret = tmp_path / "secret.yaml"
    secret.write_text('db_password: "hunter2-SECRET"\nkey: [unclosed\n')
    missing = tmp_path / "missing.yaml"
    answers = [start(client, str(path)) for path in (good, secret, missing)]
    assert [status for status, _ in answers] == [400, 400, 400]
    assert "hunter2" not in answers[1][1] and "unclosed" not in answers[1][1]
    assert len({text for _, text in answers}) == 1  # one answer: no oracle of what exists
    traversal, text = start(client, "../profiles/air-quality")
    assert traversal == 400 and "air-quality" in text  # names the shipped ones


def test_a_profile_given_as_one_line_of_json_text_is_read(client: TestClient) -> None:
    """What `dalgu testbed run --profile file.json` sends: the file's content, which may be one
    line; it was taken for a file name (and answered 503 "PostgreSQL is unavailable")."""
    provision(client)
    status, text = start(client, orjson.dumps(PROFILE.model_dump(mode="json")).decode())
    assert status == 201, text
    assert orjson.loads(text)["profile"] == "thermo"
    status, text = start(client, "air-quality")  # a shipped profile, by name
    assert status == 201, text
