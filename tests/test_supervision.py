"""`dalgu serve` keeps its processes running: a notifier or an API worker killed (the OOM
killer, a crash) is started again, and nothing acknowledged or notified is lost; and they
do not outlive it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from dalgu.cli.serve import listen_problem
from tests.ports import free_port
from tests.receiver import Receiver
from tests.server import kill_server, server_environment, start_server


def workers(server_pid: int) -> list[int]:
    """The server's granian worker processes (children running `dalgu.cli.serve` too)."""
    found = []
    for child in psutil.Process(server_pid).children():
        try:
            if "dalgu.cli.serve" in child.cmdline():
                found.append(child.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def notifiers(server_pid: int) -> list[psutil.Process]:
    """The server's notifier processes (children running `dalgu.cli.notifier`)."""
    found = []
    for child in psutil.Process(server_pid).children(recursive=True):
        try:
            if "dalgu.cli.notifier" in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def wait_for_notifier(server_pid: int, other_than: int | None, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [p.pid for p in notifiers(server_pid) if p.pid != other_than]
        if pids:
            return pids[0]
        time.sleep(0.1)
    raise AssertionError("no notifier process")


def test_a_killed_notifier_is_started_again_and_nothing_is_lost(
    tmp_path: Path, dsn: str | None
) -> None:
    db, port, receiver_port = tmp_path / "dalgu.db", free_port(), free_port()
    server = start_server(db, port, postgres_dsn=dsn)
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    receiver = Receiver(receiver_port)
    try:
        first = wait_for_notifier(server.pid, None, 10)
        sub = {
            "type": "Subscription",
            "entities": [{"type": "Thing"}],
            "notification": {"endpoint": {"uri": f"http://127.0.0.1:{receiver_port}/notify"}},
        }
        assert httpx.post(f"{base}/subscriptions", json=sub).status_code == 201
        psutil.Process(first).send_signal(signal.SIGKILL)
        # written while no notifier runs: recorded in the outbox, matched by the next one
        thing = {"id": "urn:ngsi-ld:Thing:meanwhile", "type": "Thing", "n": 1}
        assert httpx.post(f"{base}/entities", json=thing).status_code == 201
        second = wait_for_notifier(server.pid, first, 15)
        started = psutil.Process(second).cmdline()
        _, notification = receiver.next(timeout=20)
        assert notification["data"][0]["id"] == "urn:ngsi-ld:Thing:meanwhile"
    finally:
        kill_server(server, signal.SIGTERM)
        receiver.close()
    # a deliberate stop is not a crash: no notifier outlives the server
    time.sleep(0.5)
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == started]


def test_a_killed_worker_is_started_again_and_the_api_answers(
    tmp_path: Path, dsn: str | None
) -> None:
    db, port = tmp_path / "dalgu.db", free_port()
    server = start_server(db, port, postgres_dsn=dsn)
    base = f"http://127.0.0.1:{port}/ngsi-ld/v1"
    try:
        thing = {"id": "urn:ngsi-ld:Thing:before", "type": "Thing", "n": 1}
        assert httpx.post(f"{base}/entities", json=thing).status_code == 201
        (worker,) = workers(server.pid)
        psutil.Process(worker).send_signal(signal.SIGKILL)
        deadline, answered = time.monotonic() + 20, None
        while time.monotonic() < deadline and answered is None:
            try:
                answered = httpx.get(f"{base}/entities/urn:ngsi-ld:Thing:before", timeout=1)
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answered is not None and answered.status_code == 200
        assert answered.json()["n"]["value"] == 1
        assert server.poll() is None  # the server itself never stopped
        assert workers(server.pid) != [worker]
    finally:
        kill_server(server, signal.SIGTERM)


def test_workers_and_notifier_exit_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    """`kill -9` of `dalgu serve` alone (the OOM killer, say) leaves no orphan serving the port:
    the next `dalgu serve` can listen there."""
    port = free_port()
    server = start_server(tmp_path / "dalgu.db", port, environment={"DALGU_WORKERS": "2"})
    children: list[psutil.Process] = []
    try:
        wait_for_notifier(server.pid, None, 10)
        children = psutil.Process(server.pid).children(recursive=True)
        assert len(workers(server.pid)) == 2
        server.send_signal(signal.SIGKILL)  # the supervisor only, not its process group
        server.wait(10)
        deadline = time.monotonic() + 5
        while alive(children):
            assert time.monotonic() < deadline, f"orphans still running: {alive(children)}"
            time.sleep(0.1)
        assert listen_problem("127.0.0.1", port) is None
    finally:
        for child in alive(children):
            child.kill()
        kill_server(server)


def alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those still running (an exited orphan nobody has reaped yet is a zombie: gone)."""
    running = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
        except psutil.NoSuchProcess:
            pass
    return running


def test_a_server_stopped_while_its_worker_starts_stops_at_once(tmp_path: Path) -> None:
    """SIGTERM (systemd's stop, say) that reaches `dalgu serve` while its worker is still
    starting: the worker had inherited a handler that only flagged granian's main loop, lost
    the stop granian passed on, and served for 30 s more until killed."""
    port = free_port()
    env = server_environment(tmp_path / "dalgu.db", port)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "dalgu", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while b"Spawning worker-1" not in log.read_bytes():  # the worker is importing Dalgu
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()
            time.sleep(0.01)
        server.send_signal(signal.SIGTERM)
        started = time.monotonic()
        server.wait(25)
        assert time.monotonic() - started < 10
        deadline = time.monotonic() + 5
        while listen_problem("127.0.0.1", port) is not None:
            assert time.monotonic() < deadline, "the port is still held"
            time.sleep(0.1)
    finally:
        kill_server(server)
