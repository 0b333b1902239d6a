"""Dalgu's one typed settings object: `DALGU_*` environment variables and an optional TOML file.

Read once at start (`Settings.load()`) and passed down; nothing else reads the environment.
Defaults run the embedded mode: an SQLite file under `./var/`, bound to 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,200}")
_SUBJECT_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
#: a web origin (RFC 6454): scheme, host and optional port, no path
_ORIGIN = re.compile(r"https?://[^\s,/?#]+")


class InvalidSettings(Exception):
    """Settings that cannot run: each problem on a line, named as its `DALGU_*` variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DALGU_", extra="forbid")

    host: str = Field("127.0.0.1", description="Address the HTTP API binds to.")
    port: int = Field(
        1026, ge=0, le=65535, description="Port of the NGSI-LD API (Orion-LD's default)."
    )
    workers: int = Field(1, ge=1, description="Server worker processes.")
    notifier: Literal["process", "inline", "off"] = Field(
        "process",
        description="Where subscriptions are matched and notifications sent: a process of its "
        "own that `dalgu serve` starts (the second core), inline in the API's event loop, or off "
        "(run `dalgu notifier` elsewhere, e.g. several of them on PostgreSQL).",
    )
    notifier_lag_warning: float = Field(
        30.0,
        gt=0,
        description="`GET /health` warns when the oldest change no notifier has matched is "
        "older than this (seconds): the notifier is down, or behind.",
    )
    notification_backlog: int = Field(
        100_000,
        ge=0,
        description="Notifications kept waiting per subscription whose endpoint is slower than "
        "its updates; past it the oldest not yet tried are dropped (a warning says how many). "
        "0 keeps them all.",
    )
    change_feed: Literal["off", "nats"] = Field(
        "off",
        description="Publish every committed entity change to a NATS JetStream stream "
        "(the city's change feed, for analytics and other services).",
    )
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server of the change feed.")
    nats_stream: str = Field(
        "DALGU_CHANGES", description="JetStream stream of the change feed (created if missing)."
    )
    nats_subject: str = Field(
        "dalgu.changes",
        description="Subject prefix of the change feed: <prefix>.<tenant>.<entity type>.",
    )
    nats_max_age: float = Field(
        7 * 86400.0, gt=0, description="Seconds the stream keeps a change (its retention)."
    )
    store: Literal["sqlite", "postgres"] = Field("sqlite", description="Store backend.")
    sqlite_path: Path = Field(Path("var/dalgu.db"), description="SQLite database file.")
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL", description="NORMAL survives a process crash; FULL also a power cut."
    )
    sqlite_wal_limit_mib: int = Field(
        256,
        ge=1,
        description="The SQLite -wal file's size (MiB) past which it is checkpointed and "
        "truncated, waiting briefly for readers (keeps the disk bounded under steady writes).",
    )
    sqlite_cache_mib: int = Field(
        32,
        ge=1,
        description="SQLite page cache of each server worker (MiB); pages beyond it are read "
        "from the operating system's file cache (random reads of 100,000 entities were as "
        "fast with 32 as with 64).",
    )
    postgres_dsn: str = Field(
        "postgresql://postgres@127.0.0.1:5432/dalgu", description="PostgreSQL DSN."
    )
    postgres_pool_size: int = Field(8, ge=1)
    postgres_write_transactions: int = Field(
        4,
        ge=1,
        description="Write transactions of a worker under way at once (at most the pool size); "
        "writes arriving while all are taken are written together in the next.",
    )
    forward_timeout: float = Field(
        5.0,
        gt=0,
        description="Seconds a context source has to answer a forwarded request "
        "(a registration's management.timeout overrides it).",
    )
    forward_tenant: Literal["registration", "request"] = Field(
        "registration",
        description="The tenant a forwarded request names when its registration has no "
        "`tenant`: `registration` the default tenant (clause 5.2.9), `request` the tenant of "
        "the request forwarded (what Orion-LD does, and what FIWARE IoT Agents, which register "
        "without a tenant, need for commands and lazy attributes in their service).",
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body (413).")
    body_timeout: float = Field(
        60.0,
        gt=0,
        description="Seconds a client has to send a request's body, from its first read (408 "
        "past them): a body trickled or stalled does not hold a connection for ever.",
    )
    max_json_depth: int = Field(64, ge=4, description="Deepest JSON nesting accepted.")
    max_page_size: int = Field(1000, ge=1, description="Largest `limit` on queries.")
    default_page_size: int = Field(20, ge=1)
    context_fetch_timeout: float = Field(5.0, gt=0, description="Remote @context timeout (s).")
    context_max_bytes: int = Field(1_048_576, ge=1024)
    context_cache_size: int = Field(256, ge=1)
    render_cache_mib: int = Field(
        8,
        ge=0,
        description="Memory (MiB, per worker) for entities kept as rendered JSON bytes by "
        "document, @context and representation (repeated reads skip rendering); 0: none.",
    )
    gc_young_threshold: int = Field(
        10_000,
        ge=100,
        description="Allocations between collections of Python's young generation in the "
        "server and notifier processes (Python's default, 700, costs writes ~15% of their CPU).",
    )
    gc_freeze: bool = Field(
        True,
        description="Collect once at start-up and freeze what is loaded out of the collector's "
        "sight (off: leave the collection to the process embedding Dalgu; tests that build an "
        "app per test turn it off, a full collection of their heap each time costs ~0.1 s).",
    )
    heap_trim_interval: float = Field(
        5.0,
        ge=0,
        description="Seconds between returns of freed C heap to the operating system in each "
        "server worker (glibc's malloc_trim: ~40 MiB after a bulk load of 100,000 entities); "
        "0: never.",
    )
    temporal_instance_limit: int = Field(
        1000,
        ge=1,
        description="Most instances per attribute in one temporal answer; more is a 206 with "
        "Content-Range (clause 6.3.10).",
    )
    temporal_retention: str | None = Field(
        None,
        description="Keep temporal history this long (ISO 8601 duration, e.g. P90D or P1Y); "
        "unset keeps everything. PostgreSQL drops whole months.",
    )
    temporal_retention_interval: float = Field(
        3600.0, gt=0, description="Seconds between two runs of the retention policy."
    )
    wifi_interval: float = Field(
        30.0,
        ge=0,
        description="Seconds between two sweeps of the Wi-Fi zones (0: no background sweep).",
    )
    wifi_silence: float = Field(
        300.0, gt=0, description="Seconds without a report after which an access point is down."
    )
    wifi_radius: float = Field(
        50.0, ge=0, description="Metres an access point covers, unless it says (coverageRadius)."
    )
    wifi_capacity: int = Field(
        50, ge=1, description="Clients an access point serves, unless it says (maxClients)."
    )
    public_url: str | None = Field(None, description="Base URL clients reach Dalgu at.")
    cors_origins: str = Field(
        "",
        description="Origins whose browser pages may call the APIs (CORS), comma-separated "
        "(e.g. https://dash.example.org), or * for any; empty: no CORS headers.",
    )
    mqtt_broker: Literal["embedded", "external", "off"] = Field(
        "embedded",
        description="Gateway MQTT: start an embedded broker, use an external one (Mosquitto), "
        "or no MQTT southbound.",
    )
    mqtt_host: str = Field("127.0.0.1", description="MQTT broker address (embedded: bind).")
    mqtt_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="MQTT broker port; default 1884 embedded, 1883 external; "
        "0: no MQTT southbound.",
    )
    iot_north_port: int = Field(
        4041,
        ge=0,
        le=65535,
        description="IoT Agent provisioning API port (0: only on the API port).",
    )
    iot_south_port: int = Field(7896, ge=0, le=65535, description="HTTP southbound port (0: none).")
    coap_port: int = Field(5683, ge=0, le=65535, description="CoAP southbound UDP port (0: none).")
    mqtt_client_id: str | None = Field(
        None,
        description="Client id of the gateway's persistent MQTT session, the server's one "
        "(default dalgu-<host name>-<API port>): stable across restarts, so the broker keeps "
        "what devices publish meanwhile, and unique per server on a shared broker.",
    )
    device_context: str = Field(
        "",
        description="The @context the device gateway writes with (the IoT Agents' "
        "IOTA_JSON_LD_CONTEXT): comma-separated URLs of JSON-LD contexts, read at start (one "
        "hosted by Dalgu itself, POST /ngsi-ld/v1/jsonldContexts, is read from the store). "
        "Empty: the core context.",
    )
    device_lazy_timeout: float = Field(
        3.0, gt=0, description="Seconds a read waits for a device's lazy attribute."
    )
    device_command_expiry: float = Field(
        3600.0, gt=0, description="Seconds a polling device's queued command waits to be fetched."
    )
    safety: bool = Field(
        False,
        description="Run the vehicle safety service on the gateway's measures (alerts as "
        "NGSI-LD Alert entities).",
    )
    fhir_default_count: int = Field(20, ge=1, description="FHIR search page size (_count).")
    fhir_max_count: int = Field(500, ge=1, description="Largest FHIR _count accepted.")
    fhir_vitals_window: float = Field(
        60.0,
        gt=0,
        description="Seconds of wearable samples summarized into one vital-signs Observation "
        "(min/avg/max); 0 < window.",
    )
    fhir_vitals: bool = Field(
        True, description="Turn wearable measures of patient-linked Devices into Observations."
    )
    opendata_token: str | None = Field(
        None,
        description="API token that open-data writes (CKAN package_create, _update, _patch, "
        "_delete) must send in the Authorization header; unset: the catalogue is read-only.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Level of the processes' logs."
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto",
        description="Log lines as JSON objects or as text with key=value fields; auto: text "
        "on a terminal, JSON otherwise.",
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value  # INFO, JSON as well

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value  # as SQLite's PRAGMA takes it

    @field_validator("postgres_dsn")
    @classmethod
    def _check_dsn(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("postgres", "postgresql") or not urlsplit(value).netloc:
            raise ValueError(
                "not a PostgreSQL URL: postgresql://user[:password]@host[:port]/database"
            )
        return value

    @field_validator("nats_stream")
    @classmethod
    def _check_stream(cls, value: str) -> str:
        if not _STREAM_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a JetStream stream name: letters, digits, - and _ only"
            )
        return value

    @field_validator("nats_subject")
    @classmethod
    def _check_subject(cls, value: str) -> str:
        if not all(_SUBJECT_TOKEN.fullmatch(t) for t in value.split(".")):
            raise ValueError(
                f"{value!r} is not a NATS subject prefix: dot-separated tokens of letters, "
                "digits, - and _ (no wildcards)"
            )
        return value

    @model_validator(mode="after")
    def _port_zero_is_off(self) -> Settings:
        """`mqtt_port` 0 turns the MQTT southbound off, as 0 does every other gateway port (it
        had started the embedded broker on its default port)."""
        if self.mqtt_port == 0:
            self.mqtt_broker = "off"
        return self

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: str) -> str:
        origins = _split_origins(value)
        if origins == ["*"]:
            return value
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: scheme://host[:port] with http or https and "
                    "no path (or * alone, for any origin)"
                )
        return value

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> Settings:
        """Settings from a TOML file (argument or `DALGU_CONFIG`), then env, then overrides;
        `InvalidSettings` says what is wrong with them."""
        file = path or os.environ.get("DALGU_CONFIG")
        values: dict[str, Any] = {}
        try:
            if file:
                with open(file, "rb") as fh:
                    values = _dalgu_table(tomllib.load(fh), str(file))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidSettings(f"settings file {file}: {exc}") from None
        try:
            env = cls()  # environment and defaults
        except ValidationError as exc:
            raise InvalidSettings(_problems(exc)) from None
        try:  # the file's own values, even those a variable overrides today
            cls(**values)
        except ValidationError as exc:
            raise InvalidSettings(_problems(exc, values.keys(), file)) from None
        from_env = env.model_dump(exclude_unset=True)
        try:
            settings = cls(**{**values, **from_env, **overrides})
        except ValidationError as exc:
            raise InvalidSettings(_problems(exc, values.keys() - from_env.keys(), file)) from None
        if settings.default_page_size > settings.max_page_size:
            # every query without a `limit` would be refused as asking too much
            raise InvalidSettings(
                f"DALGU_DEFAULT_PAGE_SIZE: {settings.default_page_size} is above "
                f"DALGU_MAX_PAGE_SIZE ({settings.max_page_size})"
            )
        if settings.workers > 1 and settings.mqtt_broker == "embedded":
            # each worker would start a broker on the one port: the first would bind it, the
            # others would run without an MQTT southbound and could not send commands
            raise InvalidSettings(
                "DALGU_WORKERS: the embedded MQTT broker serves one worker; with several "
                "workers use an external broker (DALGU_MQTT_BROKER=external, e.g. Mosquitto) "
                "or none (DALGU_MQTT_BROKER=off)"
            )
        return settings

    @property
    def mqtt_address(self) -> tuple[str, int]:
        default = 1884 if self.mqtt_broker == "embedded" else 1883
        return self.mqtt_host, self.mqtt_port or default

    @property
    def mqtt_session_id(self) -> str:
        """The gateway's MQTT client id: `mqtt_client_id`, or one from the host and API port."""
        return self.mqtt_client_id or f"dalgu-{socket.gethostname()}-{self.port}"

    @property
    def cors_origin_list(self) -> list[str]:
        """`cors_origins` as a list (["*"] for any origin); empty: CORS is off."""
        return _split_origins(self.cors_origins)

    @property
    def device_context_urls(self) -> list[str]:
        """`device_context` as a list of URLs (empty: the core context)."""
        return [url.strip() for url in self.device_context.split(",") if url.strip()]

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


def _split_origins(value: str) -> list[str]:
    """The origins of a comma-separated `cors_origins` value, blanks left out."""
    return [origin.strip() for origin in value.split(",") if origin.strip()]


def _dalgu_table(document: dict[str, Any], file: str) -> dict[str, Any]:
    """The `[dalgu]` table of a settings file; a file whose settings are elsewhere (at the top
    level, in another table) is refused rather than silently ignored."""
    table = document.get("dalgu", {})
    if not isinstance(table, dict):
        raise InvalidSettings(f"settings file {file}: `dalgu` must be a table ([dalgu])")
    outside = sorted(key for key in document if key != "dalgu")
    if outside:
        raise InvalidSettings(
            f"settings file {file}: {', '.join(outside)} outside the [dalgu] table "
            "(every setting goes under a [dalgu] line)"
        )
    return table


def _problems(
    error: ValidationError, from_file: Iterable[str] = (), file: str | Path | None = None
) -> str:
    """One line per invalid setting, named as its environment variable, or as its key in the
    settings file when the file gave it."""
    in_file = set(from_file)
    lines = []
    for problem in error.errors():
        name = ".".join(str(part) for part in problem["loc"]) or "settings"
        given = problem.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
        where = f"{name} in {file}" if name in in_file else f"DALGU_{name.upper()}"
        lines.append(f"{where}: {problem['msg']}{shown}")
    return "\n".join(lines)
