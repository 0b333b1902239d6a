"""Every shipped lesson, run as a reader would against a real Dalgu: each command's output is
what the lesson shows, on both stores."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.js.errors import NotFoundError

from dalgu.tutorial.catalog import lesson_files
from dalgu.tutorial.lesson import read_lesson
from dalgu.tutorial.runner import LessonRun
from tests.conftest import BACKENDS, fresh_database
from tests.feed.stream import NATS_URL
from tests.ports import TRIES, free_port
from tests.server import kill_server, start_server

LESSONS = lesson_files()


def test_the_lessons_are_shipped() -> None:
    names = [path.stem for path in LESSONS]
    assert names == [
        "01-entities",
        "02-subscriptions",
        "03-temporal",
        "04-devices",
        "05-context",
        "06-fhir",
        "07-testbed",
        "08-wifi",
        "09-feed",
    ]


@dataclass(frozen=True)
class Served:
    store: str
    ports: dict[int, int]  # the lessons' ports → this Dalgu's
    environment: dict[str, str]  # the lessons' shells': where the change feed is


@pytest.fixture(scope="module", params=BACKENDS)
def dalgu(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A Dalgu with every port a lesson uses on free ports, and its change feed on a stream of
    its own."""
    for program in ("curl", "jq", "mosquitto_pub"):
        assert shutil.which(program), f"the lessons need {program}"
    tag = uuid.uuid4().hex[:10]
    feed = {"DALGU_NATS_STREAM": f"DALGU_LESSONS_{tag}", "DALGU_NATS_SUBJECT": f"lessons{tag}"}
    stack = contextlib.ExitStack()
    database = None
    if request.param == "postgres":
        database = stack.enter_context(fresh_database(request))
    dsn = None if database is None else f"postgresql://postgres@127.0.0.1:5432/{database}"
    # a port picked free may be taken before the server binds it (a parallel test's client):
    # `dalgu serve` then refuses to start, and the ports are picked again
    for attempt in range(TRIES):
        ports = {
            1026: free_port(),
            4041: free_port(),
            7896: free_port(),
            1884: free_port(),
            5683: free_port(socket.SOCK_DGRAM),
            9090: free_port(),
        }
        environment = {
            **feed,
            "DALGU_CHANGE_FEED": "nats",
            "DALGU_IOT_NORTH_PORT": str(ports[4041]),
            "DALGU_IOT_SOUTH_PORT": str(ports[7896]),
            "DALGU_COAP_PORT": str(ports[5683]),
            "DALGU_MQTT_BROKER": "embedded",
            "DALGU_MQTT_PORT": str(ports[1884]),
        }
        db = tmp_path_factory.mktemp(f"lessons-{uuid.uuid4().hex[:6]}") / "dalgu.db"
        try:
            server = start_server(db, ports[1026], postgres_dsn=dsn, environment=environment)
            break
        except RuntimeError:
            if attempt == TRIES - 1:
                stack.close()
                raise
    try:
        yield Served(request.param, ports, {**os.environ, **feed})
    finally:
        kill_server(server)
        asyncio.run(_drop_stream(feed["DALGU_NATS_STREAM"]))
        stack.close()


async def _drop_stream(name: str) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(name)
    finally:
        await nc.close()


@pytest.mark.slow
@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_every_step_prints_what_the_lesson_shows(path: Path, dalgu: Served) -> None:
    lesson = read_lesson(path)
    # twice on one store: a lesson clears what an earlier run left, so readers can run it again
    for _ in range(2 if dalgu.store == "sqlite" else 1):
        with LessonRun(lesson, ports=dalgu.ports, timeout=30, environment=dalgu.environment) as run:
            results = list(run.steps())
        failed = [r for r in results if not r.ok]
        assert not failed, "\n".join(
            f"{path.name}:{r.step.line}: {r.problems}\n{r.printed[:1500]}" for r in failed
        )
        assert sum(1 for r in results if r.shown is not None) >= 3  # it checks what it shows
