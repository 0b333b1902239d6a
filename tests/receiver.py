"""A real HTTP notification receiver on loopback, for tests."""

from __future__ import annotations

import http.server
import json
import queue
import threading
from typing import Any


class _Server(http.server.ThreadingHTTPServer):
    # the notifier opens up to 8 connections to a receiver at once: with the default listen
    # backlog of 5 the kernel drops the SYNs past it, and their connections came 1 s later
    request_queue_size = 128


class Receiver:
    """Collects POSTed notifications (headers and JSON body) in a queue."""

    def __init__(self, port: int = 0) -> None:
        received: queue.Queue[tuple[dict[str, str], Any]] = queue.Queue()
        self.received = received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                received.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self, timeout: float = 10.0) -> tuple[dict[str, str], Any]:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
