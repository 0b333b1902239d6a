"""A real NGSI-LD context source stand-in on loopback, for tests of distributed operations:
it records every request and answers from a table of (method, path with query) replies."""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Seen:
    method: str
    path: str  # with the query string, as sent
    headers: dict[str, str]
    body: Any


class ContextSource:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.replies: dict[tuple[str, str], tuple[int, Any]] = {}
        self.delays: dict[tuple[str, str], float] = {}
        source = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                headers = {k.lower(): v for k, v in self.headers.items()}
                source.seen.append(Seen(self.command, self.path, headers, body))
                time.sleep(source.delays.get((self.command, self.path), 0.0))
                status, answer = source.replies.get((self.command, self.path), (404, None))
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(
        self, method: str, path: str, status: int, body: Any = None, *, delay: float = 0.0
    ) -> None:
        """Answer `method` `path` (under /ngsi-ld/v1, with its query) with `status`, `body`,
        after `delay` seconds."""
        self.replies[(method, "/ngsi-ld/v1" + path)] = (status, body)
        self.delays[(method, "/ngsi-ld/v1" + path)] = delay

    def requests(self, method: str | None = None) -> list[Seen]:
        return [s for s in self.seen if method is None or s.method == method]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
