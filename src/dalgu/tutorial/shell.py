"""A bash session that runs a lesson's commands one after another, as a reader's terminal would."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path


class Shell:
    """One terminal: bash reading commands from a pipe, its output (stdout and stderr) kept.

    Each command's standard input is /dev/null, so a command never reads the next one. The
    session runs in a process group of its own: `close` ends it with whatever it started.
    """

    def __init__(self, cwd: Path, environment: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(environment),
            start_new_session=True,
        )
        self._output = bytearray()
        self._consumed = 0
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def run(self, code: str, timeout: float) -> tuple[str, int | None]:
        """Run `code` and wait for it: what it printed and its exit status (None: timed out)."""
        marker = f"__dalgu_done_{uuid.uuid4().hex}__"
        self._type(f"{{\n{code}\n}} </dev/null\nprintf '\\n{marker} %d\\n' $?\n")
        pattern = re.compile(rb"\n" + marker.encode() + rb" (\d+)\n")
        found: list[re.Match[bytes]] = []

        def done(output: bytes) -> bool:
            hit = pattern.search(output)
            if hit:
                found.append(hit)
            return hit is not None

        text, _ = self.wait(done, timeout)
        if not found:
            return text, None
        hit = found[0]
        with self._changed:
            start = self._consumed
            self._consumed = start + hit.end()
            printed = bytes(self._output[start : start + hit.start()])
        return printed.decode("utf-8", "replace"), int(hit[1])

    def send(self, code: str) -> None:
        """Type `code` into the terminal without waiting for it (a background terminal); it
        reads /dev/null, never the commands typed after it."""
        self._type(f"{{\n{code}\n}} </dev/null\n")

    def _type(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text.encode())
        self.process.stdin.flush()

    def wait(self, done: Callable[[bytes], bool], timeout: float) -> tuple[str, bool]:
        """Wait until the output not yet consumed satisfies `done`, or `timeout` passes: that
        output, and whether it did."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                pending = bytes(self._output[self._consumed :])
                if done(pending):
                    return pending.decode("utf-8", "replace"), True
                left = deadline - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    return pending.decode("utf-8", "replace"), False
                self._changed.wait(min(left, 0.5))

    def consume(self) -> None:
        """Mark everything printed so far as read."""
        with self._changed:
            self._consumed = len(self._output)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self._reader.join(5)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while chunk := os.read(stdout.fileno(), 65536):
            with self._changed:
                self._output.extend(chunk)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()
