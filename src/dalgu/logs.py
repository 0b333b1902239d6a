"""Every Dalgu process's log: one line per record on standard error, its fields kept.

Dalgu's modules log with `extra={...}` fields (`wal_bytes`, `subscription`, …). As JSON lines
(`DALGU_LOG_FORMAT=json`, what a log shipper reads) each record is one object: `time`,
`level`, `logger`, `message`, the fields, and `exception` with the traceback when there is
one. As text (`text`) the fields follow the message as `key=value`. `auto`, the default, is
text on a terminal and JSON otherwise. `DALGU_LOG_LEVEL` sets the level of Dalgu's loggers;
libraries that log a line per request or connection at INFO (httpx, amqtt) are held to
warnings.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["auto", "json", "text"]

# a library that logs every request or connection at INFO would drown Dalgu's own lines
QUIET = ("httpx", "httpcore", "amqtt", "transitions", "aiocoap", "nats", "asyncio")
# what every LogRecord has: anything else on a record came from `extra`
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's own fields (those given with `extra`)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextLines(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in fields(record).items())
        if not extra:
            return text
        head, newline, rest = text.partition("\n")  # the traceback stays below
        return f"{head} {extra}{newline}{rest}"


_HANDLER_NAME = "dalgu"


def resolved(form: LogFormat) -> Literal["json", "text"]:
    """`form`, `auto` made text on a terminal and JSON otherwise."""
    if form == "auto":
        return "text" if sys.stderr.isatty() else "json"
    return form


def granian_config(form: LogFormat) -> dict[str, Any]:
    """The HTTP server's own logging (granian's `log_dictconfig`: its start, its workers,
    their crashes) in Dalgu's lines on standard error: it wrote `[INFO] ...` text on standard
    output, among the JSON lines a log shipper reads."""
    formatter = {"()": JsonLines if resolved(form) == "json" else TextLines}
    handler = {"formatter": "dalgu", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"dalgu": formatter},
        "handlers": {"console": handler, "access": handler},
        "loggers": {
            "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def configure(level: str = "info", form: LogFormat = "auto") -> None:
    """Send every record at `level` or above to standard error in `form` (once a process:
    called again, it replaces its own handler)."""
    form = resolved(form)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonLines() if form == "json" else TextLines())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
