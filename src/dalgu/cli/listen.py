"""`dalgu listen`: a notification endpoint that prints what it receives, one line each."""

from __future__ import annotations

import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

#: bodies larger than this are refused (413): a receiver for people to read, not a sink
MAX_BODY = 8 * 1024 * 1024


class Listener(ThreadingHTTPServer):
    """Answers every POST or PUT with 204 and prints its body as one line of compact JSON
    (or as text when it is not JSON); stops after `count` bodies when given."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], count: int | None = None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Receive)
        self.count = count
        self.received = 0
        self._lock = threading.Lock()

    def deliver(self, body: bytes) -> None:
        try:
            line = json.dumps(json.loads(body), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            line = body.decode("utf-8", "replace").strip()
        with self._lock:
            print(line, flush=True)
            self.received += 1
            if self.count is not None and self.received >= self.count:
                threading.Thread(target=self.shutdown, daemon=True).start()


class _Receive(BaseHTTPRequestHandler):
    server: Listener

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._answer(411)
            return
        if int(length) > MAX_BODY:
            self._answer(413)
            return
        body = self.rfile.read(int(length))
        self._answer(204)
        self.server.deliver(body)

    do_PUT = do_POST

    def _answer(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged: stdout is the notifications."""


def address_of(text: str) -> tuple[str, int]:
    """`127.0.0.1:9090`, `:9090`, `9090` or a URL (`http://127.0.0.1:9090/notify`): where to
    listen; a host other than loopback is refused."""
    if text.isdigit():
        host, port = "127.0.0.1", int(text)
    else:
        parts = urlsplit(text if "//" in text else f"//{text}")
        if parts.port is None:
            raise ValueError(f"{text!r} has no port")
        host, port = parts.hostname or "127.0.0.1", parts.port
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"{host} is not a loopback address (127.0.0.1, ::1)")
    return ("127.0.0.1" if host == "localhost" else host), port


def listen(address: tuple[str, int], count: int | None) -> None:
    server = Listener(address, count)
    host, port = address
    shown = f"[{host}]" if ":" in host else host
    print(f"listening on http://{shown}:{port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
