"""Server processes for the benchmarks: pinned, health-checked, RSS-sampled, always stopped.

Every `Server` registers itself until stopped; `stop_all` (also run at exit, and reached from
Ctrl-C, SIGTERM, SIGHUP and the time budget's SIGALRM through ordinary exceptions) ends them.
Each server runs in its own session, so a terminal's Ctrl-C reaches only the harness (and wrk),
which then stops the servers itself.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
_running: list[Server] = []


class BenchTimeout(Exception):
    """The whole run went past its time budget."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dalgu_command() -> list[str]:
    """`dalgu serve` from this interpreter's environment (`python -m dalgu` if the script is
    not installed there)."""
    script = Path(sys.executable).parent / "dalgu"
    return [str(script), "serve"] if script.exists() else [sys.executable, "-m", "dalgu", "serve"]


def dalgu_env(store: str, port: int, sqlite_path: Path) -> dict[str, str]:
    """A one-worker Dalgu on loopback `port` (PostgreSQL's DSN is the caller's to add)."""
    return {
        "DALGU_STORE": store,
        "DALGU_HOST": "127.0.0.1",
        "DALGU_PORT": str(port),
        "DALGU_WORKERS": "1",
        "DALGU_SQLITE_PATH": str(sqlite_path),
    }


def granian_command(app: str, port: int) -> list[str]:
    """granian serving the ASGI `app` (`module:attribute`) on 127.0.0.1:`port`, one worker:
    the ceilings' server, with the settings `dalgu serve` runs."""
    script = Path(sys.executable).parent / "granian"
    granian = [str(script)] if script.exists() else [sys.executable, "-m", "granian"]
    return [
        *granian,
        "--interface",
        "asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        app,
    ]


def memory_line(server: Server, load: tuple[float, float, float]) -> str:
    """The closing line of a run: the server's peak RSS and PSS, the load average around it."""
    return (
        f"peak RSS {server.peak / 2**20:.0f} MiB, PSS {server.peak_pss / 2**20:.0f} MiB; "
        f"load average {load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )


def commit() -> str:
    """The short commit id of the checkout the benchmark runs from ("?" outside git)."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"


def cores() -> tuple[int, int]:
    """(server core, load-generator core): the first two CPUs this process may use."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise SystemExit("the benchmark needs two cores: one for the server, one for wrk")
    return allowed[0], allowed[1]


class Server:
    """A server process group pinned to one core, with its peak RSS (workers included)."""

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        env: dict[str, str],
        health: str,
        core: int | str,
        log: Path,
        start_timeout: float = 60,
    ) -> None:
        self.name = name
        self.log = log
        self.peak = 0
        # RSS summed over processes counts the pages they share (the interpreter, numpy,
        # shapely, SQLite) once per process; PSS gives each its share: the memory they take
        self.peak_pss = 0
        self._stop = threading.Event()
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            ["taskset", "-c", str(core), *cmd],
            env={**os.environ, **env},
            cwd=ROOT,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        _running.append(self)
        threading.Thread(target=self._sample, name=f"rss-{name}", daemon=True).start()
        try:
            self._wait_healthy(health, start_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            try:
                if httpx.get(url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout:.0f} s")

    def _sample(self) -> None:
        try:
            root = psutil.Process(self.process.pid)
        except psutil.Error:
            return
        tick = 0
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
                if tick % 5 == 0:  # PSS reads every mapping (~1 ms of CPU per process): 1/s
                    pss = sum(getattr(p.memory_full_info(), "pss", 0) for p in procs)
                    self.peak_pss = max(self.peak_pss, pss)
            except psutil.Error:
                pass
            tick += 1
            self._stop.wait(0.2)

    def rss(self) -> int:
        """Current RSS of the server and its workers, in bytes."""
        try:
            root = psutil.Process(self.process.pid)
            return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            return 0

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the server and its workers have used so far."""
        try:
            root = psutil.Process(self.process.pid)
            procs = [root, *root.children(recursive=True)]
            return sum(sum(p.cpu_times()[:2]) for p in procs)
        except psutil.Error:
            return 0.0

    def worker_cpu_seconds(self) -> dict[int, float]:
        """CPU time (user and system) of each server worker (children running the serve
        module), by pid: with several workers, how evenly the load reached them."""
        try:
            root = psutil.Process(self.process.pid)
            workers = [
                p
                for p in root.children(recursive=True)
                if "dalgu.cli.serve" in " ".join(p.cmdline())
            ]
            return {p.pid: sum(p.cpu_times()[:2]) for p in workers}
        except psutil.Error:
            return {}

    def log_tail(self, lines: int = 20) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL after 10 s; safe to call twice."""
        self._stop.set()
        if self in _running:
            _running.remove(self)
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._log_file.close()


def stop_all() -> None:
    for server in reversed(list(_running)):
        server.stop()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _out_of_time(signum: int, frame: FrameType | None) -> None:
    raise BenchTimeout("the benchmark went past its time budget (--budget)")


def end_on_termination() -> None:
    """SIGTERM and SIGHUP end a benchmark as Ctrl-C does: a KeyboardInterrupt, so that its
    cleanup (`finally`, atexit) stops what it started."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)


def guard(budget_seconds: int) -> None:
    """Stop every server at exit, on Ctrl-C, SIGTERM, SIGHUP, and after `budget_seconds`."""
    atexit.register(stop_all)
    # our own SIGINT handler also keeps asyncio.run from turning Ctrl-C into a task
    # cancellation, which a client library may swallow: the interrupt always surfaces here
    signal.signal(signal.SIGINT, _interrupt)
    end_on_termination()
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(budget_seconds)


def each_store(stores: str, run: Callable[[str, int, int], None]) -> None:
    """`run(store, server core, load core)` for each store named (comma-separated; PostgreSQL
    only when it answers), with this process pinned to the load core, servers stopped at the
    end, and the load average printed before and after."""
    from databases import postgres_answers

    names = stores.split(",")
    if "postgres" in names and not postgres_answers():
        names.remove("postgres")
    server_core, client_core = cores()
    os.sched_setaffinity(0, {client_core})
    print(f"commit {commit()}, load average {_load()}", flush=True)
    try:
        for store in names:
            run(store, server_core, client_core)
    finally:
        stop_all()
    print(f"load average at the end {_load()}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
