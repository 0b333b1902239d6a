"""Run the API server: migrate, start the notifier process, then granian's workers.

`dalgu serve` hands over to `python -m dalgu.cli.serve HOST PORT WORKERS NOTIFIER NORTH SOUTH
COAP` (exec, the same process): the process that only supervises the workers, for the server's
whole life, then holds granian alone, not the command line's typer and rich nor pydantic
(~30 MiB less). The workers and the notifier read the whole settings from DALGU_*, which
`export` wrote.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dalgu.cli.supervision import SUPERVISOR_PID, exit_with_supervisor

if TYPE_CHECKING:
    from dalgu.settings import Settings


@dataclass(frozen=True, slots=True)
class Launch:
    """What the supervising process needs of the settings."""

    host: str
    port: int
    workers: int
    notifier: str
    #: the gateway's ports (0: not opened): provisioning, HTTP southbound, CoAP (UDP)
    north: int = 0
    south: int = 0
    coap: int = 0

    @classmethod
    def of(cls, settings: Settings) -> Launch:
        return cls(
            settings.host,
            settings.port,
            settings.workers,
            settings.notifier,
            settings.iot_north_port,
            settings.iot_south_port,
            settings.coap_port,
        )

    def argv(self) -> list[str]:
        numbers = (self.port, self.workers, self.north, self.south, self.coap)
        return [self.host, *map(str, numbers[:2]), self.notifier, *map(str, numbers[2:])]

    @classmethod
    def from_argv(cls, argv: list[str]) -> Launch:
        host, port, workers, notifier, *gateway = argv
        north, south, coap = (int(p) for p in gateway) if gateway else (0, 0, 0)
        return cls(host, int(port), int(workers), notifier, north, south, coap)

    def ports(self) -> list[tuple[int, int, str]]:
        """Each port this server listens on: (port, socket kind, the setting that names it)."""
        tcp, udp = socket.SOCK_STREAM, socket.SOCK_DGRAM
        named = [
            (self.port, tcp, "DALGU_PORT"),
            (self.north, tcp, "DALGU_IOT_NORTH_PORT"),
            (self.south, tcp, "DALGU_IOT_SOUTH_PORT"),
            (self.coap, udp, "DALGU_COAP_PORT"),
        ]
        return [(port, kind, setting) for port, kind, setting in named if port]


def export(settings: Settings) -> None:
    """Hand the settings to child processes (they read DALGU_* once at start)."""
    for name, value in settings.model_dump(exclude_none=True).items():
        os.environ[f"DALGU_{name.upper()}"] = str(value)


PORT_WAIT = 3.0  # seconds a port in use may take to be freed before serve gives up
WORKER_KILL_SECONDS = 30  # a worker still running this long after the stop signal is killed
#: file descriptors a worker keeps for other than client connections, and the bounds of those
FD_RESERVE = 512
MIN_CONNECTIONS = 1024
MAX_CONNECTIONS = 65_536


def listen_problem(host: str, port: int, kind: int = socket.SOCK_STREAM) -> OSError | None:
    """Why `host:port` cannot be listened on, or None when it can.

    granian, and the gateway's own ports, listen with SO_REUSEPORT (the workers share them),
    so a second Dalgu (or any server that does the same) on a port already in use would share
    it silently, each answering part of the requests (or taking part of the devices'
    messages) with its own database; a socket without that option is refused while anyone
    listens.
    """
    if port == 0:
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as probe:
        if kind == socket.SOCK_STREAM:
            # a port left in TIME_WAIT by a server that just stopped is free to listen on
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error
    return None


def port_taken(launch: Launch) -> str | None:
    """Why the server could not listen on one of its ports (waiting `PORT_WAIT` for a server
    just stopped to let go), in a line naming the setting to change; None when it can."""
    for port, kind, setting in launch.ports():
        problem = listen_problem(launch.host, port, kind)
        deadline = time.monotonic() + PORT_WAIT
        while problem is not None and time.monotonic() < deadline:
            time.sleep(0.1)  # a server just killed may hold its socket for a moment longer
            problem = listen_problem(launch.host, port, kind)
        if problem is not None:
            where = f"{launch.host}:{port}{'/udp' if kind == socket.SOCK_DGRAM else ''}"
            return (
                f"cannot listen on {where}: {problem.strerror or problem} "
                f"(is another Dalgu or server running there? set {setting}"
                f"{'' if setting == 'DALGU_PORT' else ', or 0 for none'})"
            )
    return None


def serve(launch: Launch) -> int:
    """Serve until stopped (the settings already in DALGU_*); the exit status."""
    from granian import Granian
    from granian.constants import Interfaces

    from dalgu import logs
    from dalgu.cli.notifier import NotifierSupervisor

    # this process's own lines (a notifier restarted) and granian's, as the workers' are
    given = os.environ.get("DALGU_LOG_FORMAT", "auto").lower()
    form: logs.LogFormat = "json" if given == "json" else "text" if given == "text" else "auto"
    logs.configure(os.environ.get("DALGU_LOG_LEVEL", "info"), form)

    taken = port_taken(launch)
    if taken is not None:
        print(f"dalgu: {taken}", file=sys.stderr)
        return 1
    # once, before the workers and the notifier open the store; in a child process, so this
    # one never loads the store
    migration = subprocess.run([sys.executable, "-m", "dalgu", "migrate", "--quiet"])
    if migration.returncode != 0:
        return migration.returncode  # the child printed why
    os.environ[SUPERVISOR_PID] = str(os.getpid())  # the workers exit when this process dies
    notifier = NotifierSupervisor() if launch.notifier == "process" else None
    if notifier is not None:
        notifier.start()
    try:
        Granian(
            "dalgu.cli.serve:create_worker_app",
            address=launch.host,
            port=launch.port,
            interface=Interfaces.ASGI,
            workers=launch.workers,
            factory=True,
            log_access=False,
            # a worker that has not stopped this long after Ctrl-C or SIGTERM is killed: its
            # shutdown bounds each part to 10 s, and once (session 14's demo check) a worker
            # stayed in granian's signal handler for good, with the parent joining it forever
            workers_kill_timeout=WORKER_KILL_SECONDS,
            # a worker that dies (the OOM killer, kill -9) is started again after 3.5 s instead
            # of granian stopping the whole server; one that dies again within 5.5 s of being
            # started does stop it (granian's crash-loop rule), with a non-zero exit status
            respawn_failed_workers=True,
            backpressure=connection_capacity(),
            log_dictconfig=logs.granian_config(form),
        ).serve()
    finally:
        if notifier is not None:
            notifier.stop()
    return 0


def connection_capacity() -> int:
    """Connections each worker holds at once: as many as its file descriptors allow (the soft
    limit raised to the hard one), less `FD_RESERVE` for the store, the gateway's sockets and
    the notifier's signals. granian's default is its listen backlog, 1,024: an outside test
    held them all with ~1,500 connections that sent nothing, and every request, `/health`
    too, waited for as long as they stayed open (granian closes no idle connection)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_CONNECTIONS + FD_RESERVE if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError):
            pass
    usable = MAX_CONNECTIONS if soft == resource.RLIM_INFINITY else soft - FD_RESERVE
    return max(MIN_CONNECTIONS, min(usable, MAX_CONNECTIONS))


def create_worker_app() -> Any:
    """granian's app factory in each API worker: the API, in a process that exits with the
    supervisor that started it."""
    stop_if_stopping()
    supervisor = os.environ.get(SUPERVISOR_PID)
    if supervisor is not None:
        exit_with_supervisor(int(supervisor), signal.SIGKILL)
    from dalgu.api.asgi import create_app

    return create_app()


def stop_if_stopping() -> None:
    """A worker forked by granian inherits its main process's SIGTERM and SIGINT handler,
    which only flags the main loop. Until granian sets the worker's own (once this app is
    made), the stop signal granian sends it was lost, and a server stopped while its worker
    started served on for `WORKER_KILL_SECONDS`, until killed. So: exit now if the stop came
    already, and until granian's own handlers, let a stop signal end the worker."""
    inherited = signal.getsignal(signal.SIGTERM)
    if getattr(getattr(inherited, "__self__", None), "interrupt_signal", False) is True:
        os._exit(0)
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, signal.SIG_DFL)


def hand_over(settings: Settings) -> None:
    """Become `python -m dalgu.cli.serve` with these settings (never returns)."""
    export(settings)
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "dalgu.cli.serve", *Launch.of(settings).argv()]
    os.execv(sys.executable, argv)


if __name__ == "__main__":
    sys.exit(serve(Launch.from_argv(sys.argv[1:])))
