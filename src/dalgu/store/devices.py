"""The device gateway's and the testbed's storage interfaces: provisioned devices, conformance
reports, sandboxes, queued commands and the run journal (one implementation per backend;
services import them from `dalgu.store.base`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# --- the device gateway's registry ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """A provisioned config group or device, as the IoT Agent provisioning API wrote it.

    `doc` is the provisioning document (the gateway's to interpret); `service_path` is the
    FIWARE service path it was provisioned under.
    """

    tenant: str
    service_path: str
    apikey: str
    key: str  # a group's resource, a device's device_id
    doc: dict[str, Any]


class DeviceRegistry(ABC):
    """Config groups and devices of the gateway (FIWARE IoT Agent provisioning).

    A group is unique by (apikey, resource) across all tenants, since measures arrive with
    only an API key; a device by (tenant, service path, device_id, apikey).
    """

    @abstractmethod
    async def put_group(self, record: DeviceRecord, *, replace: bool = False) -> None:
        """Store a group; `AlreadyExists` if (apikey, resource) is taken and not `replace`."""

    @abstractmethod
    async def groups(self, tenant: str, service_path: str | None) -> list[DeviceRecord]: ...

    @abstractmethod
    async def group_for(self, apikey: str, resource: str | None) -> DeviceRecord | None:
        """The group a measure with this API key (and resource, if given) belongs to."""

    @abstractmethod
    async def delete_group(
        self, tenant: str, service_path: str, apikey: str, resource: str
    ) -> bool: ...

    @abstractmethod
    async def put_device(self, record: DeviceRecord, *, replace: bool = False) -> None:
        """Store a device; `AlreadyExists` if it is provisioned and not `replace`."""

    @abstractmethod
    async def devices(
        self, tenant: str, service_path: str | None, limit: int, offset: int
    ) -> tuple[list[DeviceRecord], int]: ...

    @abstractmethod
    async def device(
        self, tenant: str, service_path: str | None, device_id: str
    ) -> DeviceRecord | None: ...

    @abstractmethod
    async def device_for(
        self, apikey: str, device_id: str, tenant: str | None = None
    ) -> DeviceRecord | None:
        """The device a southbound message names (by the API key it came with), in `tenant`
        when given (the service of the key's config group)."""

    @abstractmethod
    async def apikey_services(self, apikey: str) -> tuple[list[str], list[str]]:
        """The tenants whose config groups, and those whose devices, use this API key
        (each sorted)."""

    @abstractmethod
    async def delete_device(
        self, tenant: str, service_path: str | None, device_id: str
    ) -> bool: ...


class ReportArchive(ABC):
    """Testbed conformance reports, kept per sandbox (tenant) as JSON documents."""

    @abstractmethod
    async def put_report(
        self, tenant: str, report_id: str, created_at: str, doc: dict[str, Any]
    ) -> None: ...

    @abstractmethod
    async def reports(self, tenant: str) -> list[dict[str, Any]]:
        """The tenant's reports, newest first."""

    @abstractmethod
    async def report(self, tenant: str, report_id: str) -> dict[str, Any] | None: ...


class SandboxRegistry(ABC):
    """Testbed sandboxes: a firm's tenant with its quotas, and wiping a tenant's device data."""

    @abstractmethod
    async def put_sandbox(self, tenant: str, doc: dict[str, Any], *, create: bool) -> None:
        """Store a sandbox; `create` fails with AlreadyExists when the tenant has one."""

    @abstractmethod
    async def sandbox(self, tenant: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def sandboxes(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def delete_sandbox(self, tenant: str) -> bool: ...

    @abstractmethod
    async def wipe_testbed(self, tenant: str) -> None:
        """Remove the tenant's config groups, devices, queued commands, conformance reports
        and temporal history (attribute instances), in one transaction."""

    @abstractmethod
    async def stored_items(self, tenant: str) -> int:
        """How much the tenant stores: its entities plus its temporal attribute instances."""

    @abstractmethod
    async def put_key(self, key: SandboxKey) -> None:
        """Store a sandbox API key (its digest; the key itself is never stored)."""

    @abstractmethod
    async def keys(self, tenant: str) -> list[SandboxKey]:
        """The sandbox's keys, revoked ones too, oldest first."""

    @abstractmethod
    async def key_by_digest(self, digest: str) -> SandboxKey | None: ...

    @abstractmethod
    async def revoke_key(self, tenant: str, key_id: str, at: str) -> bool:
        """Mark the key revoked; False if the sandbox has no such active key."""

    @abstractmethod
    async def delete_keys(self, tenant: str) -> None: ...


@dataclass(frozen=True, slots=True)
class SandboxKey:
    """A sandbox API key as stored: an id to name it by and the SHA-256 of the key."""

    tenant: str
    id: str
    digest: str
    created: str
    revoked: str | None = None


@dataclass(frozen=True, slots=True)
class QueuedCommand:
    """A command waiting for a polling device (HTTP without an endpoint) to fetch it."""

    tenant: str
    entity_id: str
    apikey: str
    device_id: str
    name: str
    value: Any
    queued: float  # epoch seconds
    expires: float


class CommandQueue(ABC):
    """Commands for polling devices, kept until fetched (once) or expired."""

    @abstractmethod
    async def queue_command(self, command: QueuedCommand) -> None:
        """Queue it durably; it replaces a command of the same name still waiting."""

    @abstractmethod
    async def take_commands(self, apikey: str, device_id: str, now: float) -> list[QueuedCommand]:
        """Remove and return the device's unexpired commands, oldest first."""

    @abstractmethod
    async def expire_commands(self, now: float) -> list[QueuedCommand]:
        """Remove and return the commands whose time ran out."""


# --- conformance runs across server processes -------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A conformance run still recording: any server process may see its devices' messages,
    one (`owner`, while `lease_until` has not passed) sends its commands and judges it."""

    id: str
    tenant: str
    apikey: str
    doc: dict[str, Any]  # the profile and what the run's status shows
    started: float  # epoch seconds: messages from `started` to `ends` are recorded
    ends: float
    owner: str
    lease_until: float


class RunJournal(ABC):
    """Conformance runs and what every server process saw during them, in the store."""

    @abstractmethod
    async def put_run(self, run: RunRecord) -> None: ...

    @abstractmethod
    async def active_runs(self) -> list[RunRecord]: ...

    @abstractmethod
    async def claim_run(self, run_id: str, owner: str, now: float, until: float) -> bool:
        """Renew `owner`'s lease, or take the run over when its lease has run out."""

    @abstractmethod
    async def add_run_events(self, events: Sequence[tuple[str, str, str, bytes]]) -> None:
        """(tenant, run id, kind, document) rows, kept in the order they are added."""

    @abstractmethod
    async def run_events(self, run_id: str, after: int = 0) -> list[tuple[int, str, bytes]]:
        """(sequence number, kind, document) of the run's events numbered past `after`."""

    @abstractmethod
    async def count_run_events(self, run_id: str, kind: str) -> int: ...

    @abstractmethod
    async def finish_run(self, run: RunRecord, created_at: str, report: dict[str, Any]) -> None:
        """Archive the report and drop the run and its events, in one transaction."""
