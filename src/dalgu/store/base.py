"""The one interface services see for entity storage; one implementation per backend.

Entities cross this boundary in Dalgu's *expanded* form (JSON-LD terms already expanded to IRIs
by the HTTP edge; see docs/architecture.md, "Entity representation"):

    {
      "id": "urn:ngsi-ld:ParkingSpot:1",
      "type": ["https://smartdatamodels.org/dataModel.Parking/ParkingSpot"],
      "scope": ["/Daegu/Jung"],                      # optional
      "createdAt": "2026-11-25T04:00:00.000Z",       # system attributes, always present
      "modifiedAt": "2026-11-25T04:00:00.000Z",
      "https://smartdatamodels.org/dataModel.Parking/status": [      # attribute IRI →
          {"type": "Property", "value": "free",                      # list of instances,
           "observedAt": "...", "createdAt": "...", "modifiedAt": "...",
           "https://uri.etsi.org/ngsi-ld/default-context/accuracy":   # sub-attribute IRI →
               {"type": "Property", "value": 0.9}},                  # one instance
          {"type": "Property", "value": "occupied", "datasetId": "urn:x:sensor2", ...}
      ],
    }

Instance members keep their short NGSI-LD names (`type`, `value`, `object`, `languageMap`,
`vocab`, `valueList`, `objectList`, `json`, `datasetId`, `observedAt`, `unitCode`, `objectType`,
`createdAt`, `modifiedAt`); every other key of an instance is a sub-attribute IRI. The default
instance of an attribute has no `datasetId`. GeoProperty values are GeoJSON geometries.

Writes go through `mutate`: the service passes, per entity id, a pure function from the stored
entity (or None) to the new one (or None to delete). The store runs all of them in one
transaction, keeps its indexes in step, and reports per item. This is the seam the change feed
(subscriptions, temporal history) hooks into: `Change` carries before and after.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from dalgu.errors import DalguError
from dalgu.query.ast import GeoQuery, QExpr, ScopeExpr, TypeExpr
from dalgu.query.duration import Duration
from dalgu.query.order import OrderTerm

if TYPE_CHECKING:  # the FHIR types are pure values; imported for annotations only
    from dalgu.fhir.model import StoredResource
    from dalgu.fhir.search import SearchQuery
    from dalgu.fhir.searchparams import IndexRows

Entity: TypeAlias = dict[str, Any]
Mutation: TypeAlias = Callable[[Entity | None], Entity | None]
"""Given the stored entity (None when absent), return the new one (None deletes it).

It may raise a `DalguError` (e.g. `AlreadyExists`, `ResourceNotFound`) to fail that item only.
"""


@dataclass(frozen=True, slots=True)
class Change:
    """The outcome of one successful mutation."""

    entity_id: str
    before: Entity | None
    after: Entity | None


Outcome: TypeAlias = Change | DalguError


@dataclass(frozen=True, slots=True)
class EntityQuery:
    """What GET /entities and POST /entityOperations/query ask for, names already expanded.

    All filters combine with AND. `attrs` keeps entities that have at least one of the named
    attributes (clause 6.4.3.2 / 5.7.2); projection of attributes is the service's job.
    """

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: TypeExpr | None = None
    attrs: tuple[str, ...] = ()
    q: QExpr | None = None
    geo: GeoQuery | None = None
    scope: ScopeExpr | None = None
    limit: int = 20
    offset: int = 0
    count: bool = False
    order: tuple[OrderTerm, ...] = ()  # orderBy (clause 4.23); by id when empty or tied
    order_from: Any = None  # the shapely geometry distances are measured from (dist-asc/desc)
    collation: str = "und"  # how strings order: an ICU collation tag, `und` the root one


@dataclass(slots=True)
class QueryResult:
    entities: list[Entity]
    count: int | None = None  # total matches, when the query asked for it


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """One entity type in a tenant: how many entities, and their attributes by attribute type."""

    type: str
    entity_count: int
    attributes: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AttributeInfo:
    """One attribute name in a tenant: where it appears and with which attribute types."""

    name: str
    attribute_count: int
    attribute_types: frozenset[str]
    type_names: frozenset[str]


class EntityStore(ABC):
    """Entities of every tenant. Tenants never see each other's data."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and bring the schema to the current version (migrations)."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def get(self, tenant: str, entity_id: str) -> Entity | None: ...

    @abstractmethod
    async def get_many(self, tenant: str, entity_ids: Sequence[str]) -> dict[str, Entity]: ...

    @abstractmethod
    async def mutate(
        self, tenant: str, items: Sequence[tuple[str, Mutation]], *, history: bool = True
    ) -> list[Outcome]:
        """Apply each mutation to its entity, all in one transaction, in order.

        With `history` (the default) a store that keeps temporal history records the changed
        attribute instances in the same transaction; the temporal API turns it off when it
        writes the history itself.

        An item whose mutation raises a `DalguError` is reported as that error and leaves its
        entity unchanged; the others still apply. The call returns after the commit: once it
        returns, the changes survive a crash of the process.
        """

    @abstractmethod
    async def query(self, tenant: str, query: EntityQuery) -> QueryResult:
        """Entities matching `query`, ordered by id, paged with limit/offset, in the database."""

    @abstractmethod
    async def types(self, tenant: str) -> list[TypeInfo]:
        """Every entity type of the tenant (IRIs), sorted, with attribute details."""

    @abstractmethod
    async def attributes(self, tenant: str) -> list[AttributeInfo]:
        """Every attribute name of the tenant (IRIs), sorted."""

    @abstractmethod
    async def tenants(self) -> list[str]: ...

    # --- registered JSON-LD contexts (/jsonldContexts) -----------------------------------

    @abstractmethod
    async def put_context(self, context_id: str, document: bytes, kind: str) -> None: ...

    @abstractmethod
    async def get_context(self, context_id: str) -> tuple[bytes, str, str] | None:
        """(document, kind, createdAt) of a registered context."""

    @abstractmethod
    async def list_contexts(self) -> list[tuple[str, str, str]]:
        """(id, kind, createdAt) of every registered context."""

    @abstractmethod
    async def delete_context(self, context_id: str) -> bool: ...


# --- the change feed and subscriptions (issue 3) ------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One committed change from the durable outbox, in commit order (`seq`)."""

    seq: int
    tenant: str
    entity_id: str
    before: Entity | None
    after: Entity | None
    at: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """A notification waiting to be sent (or retried) to one subscription's endpoint."""

    id: int
    tenant: str
    subscription_id: str
    payload: bytes
    attempts: int
    next_at: float


class SubscriptionStore(ABC):
    """Subscriptions, the change outbox they read, and their pending deliveries.

    The entity store writes a change to the outbox in the same transaction as the change
    whenever its tenant has a subscription (or an in-process consumer asked for every change),
    so a notification due for an acknowledged write is never lost.
    """

    @abstractmethod
    async def put_subscription(
        self, tenant: str, subscription_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        """Store a subscription; `create` fails with AlreadyExists when the id is taken."""

    @abstractmethod
    async def get_subscription(
        self, tenant: str, subscription_id: str
    ) -> dict[str, Any] | None: ...

    @abstractmethod
    async def list_subscriptions(
        self, tenant: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of subscriptions (all tenants when `tenant` is None) and the total count."""

    @abstractmethod
    async def delete_subscription(self, tenant: str, subscription_id: str) -> bool: ...

    @abstractmethod
    async def subscription_generation(self) -> int:
        """A number that changes whenever any subscription is created, changed or deleted."""

    @abstractmethod
    async def changes_after(self, consumer: str, limit: int) -> list[ChangeRecord]:
        """Changes past the consumer's cursor, oldest first."""

    @abstractmethod
    async def commit_changes(
        self, consumer: str, last_seq: int, deliveries: Sequence[tuple[str, str, bytes]]
    ) -> list[Delivery]:
        """Advance the consumer's cursor and queue (tenant, subscription, payload) deliveries,
        atomically: a crash leaves either both or neither. Returns those of them the caller
        may send at once, leased to it as `due_deliveries` would (a store where only one
        notifier runs saves the round trip); the others come from `due_deliveries`."""

    @abstractmethod
    async def enqueue(self, deliveries: Sequence[tuple[str, str, bytes]]) -> None:
        """Queue (tenant, subscription, payload) deliveries not tied to a change (periodic)."""

    @abstractmethod
    async def due_deliveries(self, now: float, limit: int) -> list[Delivery]:
        """Take due deliveries, oldest first, and lease them to the caller for a while: no
        other sender gets them until they are completed, finished, released or the lease runs
        out (its sender died: at-least-once). A subscription whose older delivery is leased
        or waits for a retry yields nothing newer, so its notifications go out in order."""

    @abstractmethod
    async def release_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Give leased deliveries back unsent: they are due again at once."""

    async def listen(self, wake: Callable[[], None]) -> bool:
        """Call `wake` whenever a change is committed to the outbox, also by other processes;
        False when the store cannot, and a notifier must poll."""
        return False

    @abstractmethod
    async def complete_deliveries(
        self, deliveries: Sequence[Delivery], status: dict[str, Any]
    ) -> None:
        """Remove sent deliveries (of one subscription) and merge `status` once, in one
        transaction. A crash before it means a resend: delivery is at-least-once."""

    @abstractmethod
    async def finish_delivery(
        self, delivery: Delivery, *, ok: bool, retry_at: float | None, status: dict[str, Any]
    ) -> None:
        """Remove a sent (or abandoned) delivery, or reschedule it; merge `status` into the
        subscription's status members (timesSent, lastSuccess, ...)."""


# --- context source registrations (clauses 5.9, 5.10) ------------------------------------


class RegistrationStore(ABC):
    """Context Source Registrations of each tenant, as documents in the stored form of
    `dalgu.registrations.model` (names expanded). Discovery reads a tenant's registrations
    and matches them in the service: a tenant has tens of them, not millions."""

    @abstractmethod
    async def put_registration(
        self, tenant: str, registration_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        """Store a registration; `create` fails with AlreadyExists when the id is taken."""

    @abstractmethod
    async def get_registration(
        self, tenant: str, registration_id: str
    ) -> dict[str, Any] | None: ...

    @abstractmethod
    async def registrations(self, tenant: str) -> list[dict[str, Any]]:
        """Every registration of the tenant, oldest first (then by id)."""

    @abstractmethod
    async def delete_registration(self, tenant: str, registration_id: str) -> bool: ...

    # context source registration subscriptions (clause 5.11): their notifications go
    # through the deliveries of `SubscriptionStore`, which also records their status

    @abstractmethod
    async def put_csource_subscription(
        self, tenant: str, subscription_id: str, document: dict[str, Any], *, create: bool
    ) -> None:
        """Store one; `create` fails with AlreadyExists when the id is taken."""

    @abstractmethod
    async def get_csource_subscription(
        self, tenant: str, subscription_id: str
    ) -> dict[str, Any] | None: ...

    @abstractmethod
    async def list_csource_subscriptions(
        self, tenant: str | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """A page (all tenants when `tenant` is None), oldest first, and the total count."""

    @abstractmethod
    async def delete_csource_subscription(self, tenant: str, subscription_id: str) -> bool:
        """Delete it and its pending notifications."""


# --- temporal history (issue 3) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TemporalQuery:
    """A temporal query (clause 5.7.3/5.7.4, 6.18–6.19), names expanded.

    `timerel` None means the whole history. `q` and `geo` hold for an entity when some of its
    attribute instances inside the time interval satisfy them. `dataset_ids` keeps only those
    instances (`@none`: the default instance). `aggregate` asks for aggregated values with the
    given methods over buckets of `period` starting at `time_at` (after/between) or at the
    entity's first instance; a zero or missing period is one bucket over the whole range.

    Per attribute the store returns at most `instance_limit` instances, the oldest ones, or
    with `last_n` the newest min(last_n, instance_limit) ones; always in time order.
    """

    ids: tuple[str, ...] = ()
    id_pattern: str | None = None
    types: TypeExpr | None = None
    attrs: tuple[str, ...] = ()
    q: QExpr | None = None
    geo: GeoQuery | None = None
    dataset_ids: tuple[str, ...] = ()
    timerel: str | None = None
    time_at: str | None = None
    end_time_at: str | None = None
    timeproperty: str = "observedAt"
    last_n: int | None = None
    instance_limit: int | None = None
    aggregate: tuple[str, ...] = ()
    period: Duration | None = None
    descending: bool = False  # entities by id, z to a
    limit: int = 20
    offset: int = 0
    count: bool = False

    @property
    def per_attribute(self) -> int | None:
        """How many instances of each attribute the store returns at most."""
        bounds = [n for n in (self.last_n, self.instance_limit) if n is not None]
        return min(bounds) if bounds else None


@dataclass(slots=True)
class TemporalEntity:
    """One entity's history: instances (or aggregates) per attribute IRI."""

    id: str
    types: list[str]
    instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    aggregates: dict[str, dict[str, list[list[Any]]]] = field(default_factory=dict)


class TemporalStore(ABC):
    """Attribute instances over time. The entity store records them for every change, in the
    transaction of that change (`dalgu.store.history`); the temporal API can also add, change
    and delete them."""

    @abstractmethod
    async def add_instances(
        self,
        tenant: str,
        entity_id: str,
        types: list[str],
        attrs: dict[str, list[Any]],
        *,
        replace_same_time: bool = False,
    ) -> bool:
        """Record instances for an entity's history (its types are added to the ones it
        has); True when the entity was new there. With `replace_same_time`, an instance
        replaces those of its attribute and datasetId observed at the same time."""

    @abstractmethod
    async def temporal_query(
        self, tenant: str, query: TemporalQuery
    ) -> tuple[list[TemporalEntity], int | None]: ...

    @abstractmethod
    async def delete_history(
        self,
        tenant: str,
        entity_id: str,
        attr: str | None = None,
        *,
        dataset_id: str | None = None,
        delete_all: bool = False,
        instance_id: str | None = None,
    ) -> bool:
        """Delete an entity's history, one attribute's, or one instance; False if none."""

    @abstractmethod
    async def replace_instance(
        self, tenant: str, entity_id: str, attr: str, instance_id: str, instance: dict[str, Any]
    ) -> bool: ...

    @abstractmethod
    async def retention(self, tenant: str | None, older_than: datetime) -> int:
        """Forget instances whose time (observedAt, else createdAt) is before `older_than`;
        returns how many went. PostgreSQL drops whole monthly partitions (all tenants), so
        it keeps up to a month more than asked; a tenant's own retention deletes rows."""


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
    async def device_for(self, apikey: str, device_id: str) -> DeviceRecord | None:
        """The device a southbound message names (by the API key it came with)."""

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


# --- the FHIR resource store (issue 6) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class FhirWrite:
    """One resource write of a FHIR interaction or bundle entry.

    `resource` None deletes. The store sets `meta.versionId` and `meta.lastUpdated` in the
    resource it keeps. `if_match` is the version the client expects to replace (412 when it
    is not the current one); `must_create` fails with AlreadyExists when the id is taken.
    `index` holds the search index rows (`dalgu.fhir.searchparams.index_rows`), `patient` the
    id of the patient whose compartment the resource is in.
    """

    type: str
    id: str
    resource: dict[str, Any] | None
    index: IndexRows | None = None
    patient: str | None = None
    if_match: int | None = None
    must_create: bool = False


class FhirStore(ABC):
    """FHIR resources with their versions and search indexes.

    Rows are `dalgu.fhir.model.StoredResource`; queries are `dalgu.fhir.search.SearchQuery`,
    evaluated in SQL over index rows written in the transaction of each write.
    """

    @abstractmethod
    async def fhir_write(self, writes: Sequence[FhirWrite]) -> list[StoredResource]:
        """Apply every write in one transaction, all or nothing, in order; returns one
        `StoredResource` per write. A `DalguError` (ResourceNotFound, PreconditionFailed,
        AlreadyExists, Conflict) from any of them aborts all. Returns after the commit."""

    @abstractmethod
    async def fhir_read(
        self, type_name: str, resource_id: str, version: int | None = None
    ) -> StoredResource | None:
        """The current (or given) version as a `StoredResource`, a deletion included
        (`deleted`, no body); None when the resource or version never existed."""

    @abstractmethod
    async def fhir_read_many(self, references: Sequence[tuple[str, str]]) -> list[StoredResource]:
        """The current, not deleted versions of (type, id) resources that exist."""

    @abstractmethod
    async def fhir_history(
        self,
        type_name: str,
        resource_id: str | None,
        since: float | None,
        count: int,
        offset: int,
    ) -> tuple[list[StoredResource], int]:
        """Versions of one resource (or of every resource of the type), newest first, with
        their total; `since` (epoch seconds) keeps versions written at or after it."""

    @abstractmethod
    async def fhir_search(self, query: SearchQuery) -> tuple[list[StoredResource], int | None]:
        """Current resources matching a `SearchQuery`, one page, and the total if asked."""


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
