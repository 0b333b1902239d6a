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
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeAlias

import orjson

from dalgu.errors import DalguError, StoreUnavailable
from dalgu.query.ast import GeoQuery, QExpr, ScopeExpr, TypeExpr, names_either
from dalgu.query.duration import Duration
from dalgu.query.order import Ordering, OrderTerm
from dalgu.store.devices import CommandQueue as CommandQueue
from dalgu.store.devices import DeviceRecord as DeviceRecord
from dalgu.store.devices import DeviceRegistry as DeviceRegistry
from dalgu.store.devices import QueuedCommand as QueuedCommand
from dalgu.store.devices import ReportArchive as ReportArchive
from dalgu.store.devices import RunJournal as RunJournal
from dalgu.store.devices import RunRecord as RunRecord
from dalgu.store.devices import SandboxKey as SandboxKey
from dalgu.store.devices import SandboxRegistry as SandboxRegistry
from dalgu.store.fhir_store import FhirStore as FhirStore
from dalgu.store.fhir_store import FhirWrite as FhirWrite
from dalgu.store.opendata_store import DatasetStore as DatasetStore
from dalgu.store.registration_store import ForwardingStatus as ForwardingStatus
from dalgu.store.registration_store import RegistrationStore as RegistrationStore

Entity: TypeAlias = dict[str, Any]
Mutation: TypeAlias = Callable[[Entity | None], Entity | None]
"""Given the stored entity (None when absent), return the new one (None deletes it); it may
raise a `DalguError` (e.g. `AlreadyExists`, `ResourceNotFound`) to fail that item only."""


@dataclass(frozen=True, slots=True)
class Change:
    """The outcome of one successful mutation."""

    entity_id: str
    before: Entity | None
    after: Entity | None


Outcome: TypeAlias = Change | DalguError


@dataclass(frozen=True, slots=True)
class DefaultRendering:
    """How an entity is answered to the commonest read (Retrieve Entity with the core context
    only, normalized, no options), made once per write so that reads send stored bytes.

    `render` gives those JSON bytes for an entity; `version` names the code and @context that
    made them: a store that keeps renderings made under another version makes them again."""

    version: str
    render: Callable[[Entity], bytes]


@dataclass(frozen=True, slots=True)
class StoredRendering:
    """An entity as a store has it for the default read: its rendering when the store keeps
    one (`rendered`), else its document (`document`) for the reader to render."""

    rendered: bytes | None
    document: bytes | None


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
    # keyset paging: only entities whose id sorts after this one (with the default id order,
    # the next page after the entity of that id): a reader of every page (a download) reads
    # each entity once, where `offset` walks again past every page before
    after: str | None = None
    count: bool = False
    order: tuple[OrderTerm, ...] = ()  # orderBy (clause 4.23); by id when empty or tied
    order_from: Any = None  # the shapely geometry distances are measured from (dist-asc/desc)
    collation: str = "und"  # how strings order: an ICU collation tag, `und` the root one
    # the page as kept default renderings where the store keeps them (`QueryResult`): asked
    # for a page answered in that rendering (core context only, normalized, no options)
    rendered: bool = False

    def types_alone(self) -> tuple[str, ...] | None:
        """The type names of a query that selects by a type, or an OR of types, and by
        nothing else: its count is the number of entities of those types. Else None."""
        names = None if self.types is None else names_either(self.types)
        if names is None:
            return None
        unfiltered = replace(
            self,
            types=None,
            limit=0,
            offset=0,
            count=False,
            order=(),
            order_from=None,
            collation="und",
            rendered=False,
        )
        return names if unfiltered == _NO_FILTER else None


_NO_FILTER = EntityQuery(limit=0)  # what `types_alone` compares the rest with

#: an entity as the store keeps it: its expanded form as JSON (UTF-8)
Document: TypeAlias = bytes


class QueryResult:
    """A page of matching entities, as the stored documents (JSON bytes: a renderer that
    caches by document skips parsing them) and, parsed on first use, as entities.

    For a query that asked for them (`EntityQuery.rendered`), `renderings` holds each
    entity's kept default rendering, or None where the store has none; the document of an
    entity that has one is not read (`documents` holds `b""` for it)."""

    __slots__ = ("_entities", "count", "documents", "renderings")

    def __init__(
        self,
        documents: Sequence[Document],
        count: int | None = None,
        renderings: Sequence[bytes | None] | None = None,
    ) -> None:
        self.documents = list(documents)
        self.count = count  # total matches, when the query asked for it
        self.renderings = None if renderings is None else list(renderings)
        self._entities: list[Entity] | None = None

    @property
    def entities(self) -> list[Entity]:
        if self.renderings is not None:
            raise ValueError("a page of renderings has no entities to parse")
        if self._entities is None:
            self._entities = [orjson.loads(doc) for doc in self.documents]
        return self._entities


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

    def outage(self, error: BaseException) -> StoreUnavailable | None:
        """`error`, raised by this store, as the outage it reports (the database server down or
        unreachable, the file locked or unreadable), or None for any other failure: the edges
        answer an outage 503 (retry later) rather than 500 (a bug). A store adds what its
        driver raises to the StoreUnavailable it raises itself."""
        return error if isinstance(error, StoreUnavailable) else None

    async def get_document(self, tenant: str, entity_id: str) -> Document | None:
        """The stored document of an entity (what `get` parses), or None."""
        entity = await self.get(tenant, entity_id)
        return None if entity is None else orjson.dumps(entity)

    #: the rendering writes make and keep (`use_rendering`); None: none is kept
    rendering: DefaultRendering | None = None

    #: the schema version `open` found and the one it left (`dalgu migrate` says which)
    migrated: tuple[int, int] = (0, 0)

    async def connection_limit(self) -> int | None:
        """Connections the database server allows this store's user; None: no such limit."""
        return None

    def use_rendering(self, rendering: DefaultRendering) -> None:
        """Keep `rendering` of every entity written from now on (a store that can: the
        default keeps none, and `get_rendered` gives the document)."""
        return None

    async def get_rendered(self, tenant: str, entity_id: str) -> StoredRendering | None:
        """The entity's kept default rendering, or its document when it has none; None when
        the entity does not exist."""
        document = await self.get_document(tenant, entity_id)
        return None if document is None else StoredRendering(None, document)

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
    """One committed change from the durable outbox. `seq` is its place in commit order; the
    changes of one commit may share it (a consumer moves its cursor to the last one read)."""

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


def sending_status(
    deliveries: Sequence[Delivery], sign: int, at: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """(tenant, subscription, status) to merge for leased deliveries, in one order: sign 1
    counts them as sent at `at` (timesSent, lastNotification; they go out as soon as the
    lease commits), -1 takes released ones off again (they were not sent)."""
    counts = Counter((d.tenant, d.subscription_id) for d in deliveries)
    out: list[tuple[str, str, dict[str, Any]]] = []
    for (tenant, sub), n in sorted(counts.items()):
        status: dict[str, Any] = {"timesSent": sign * n}
        if sign > 0:
            status["lastNotification"] = at
        out.append((tenant, sub, status))
    return out


class SubscriptionStore(ABC):
    """Subscriptions, the change outbox they read, and their pending deliveries.

    Leased deliveries are counted in their subscription's status (timesSent,
    lastNotification; clause 5.2.14) when they are leased, before they go out, so a receiver
    that reads the subscription as soon as a notification reaches it finds it counted;
    releasing them takes them off again.

    The entity store writes a change to the outbox in the same transaction as the change
    whenever a subscription of its tenant could match it by entity type (`change_filter`; or
    an in-process consumer asked for every change), so a notification due for an acknowledged
    write is never lost. With `record_all_changes` it writes every change (the change feed
    reads them all).
    """

    record_all_changes: bool = False

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
    async def subscription_origins(self, tenant: str) -> dict[str, int]:
        """Each subscription of the tenant by id, with the outbox position it was created at:
        the changes at or below it were recorded before it existed, and it is not notified of
        them (a notifier that lags would otherwise match them against it)."""

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
        """Changes past the consumer's cursor, oldest first: whole commits, about `limit`
        changes (more when one commit holds more)."""

    @abstractmethod
    async def start_consumer(self, consumer: str) -> None:
        """Give `consumer` a cursor if it has none, at the oldest change the outbox still
        keeps: from then on the outbox keeps every change until it has read past it."""

    @abstractmethod
    async def stop_consumer(self, consumer: str) -> None:
        """Forget `consumer`'s cursor, so that the outbox no longer keeps changes for it."""

    @abstractmethod
    async def oldest_unmatched(self, consumer: str) -> str | None:
        """When the oldest change past the consumer's cursor was recorded (its `at`), or None
        when it has matched every change."""

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

    @abstractmethod
    async def trim_deliveries(self, tenant: str, subscription_id: str, keep: int) -> int:
        """Drop the subscription's oldest deliveries that were never tried and are not
        leased, so that no more than the newest `keep` wait behind what is being sent.
        Returns how many were dropped."""

    @property
    @abstractmethod
    def lease(self) -> float:
        """Seconds a taker holds the deliveries it took, unless it renews them."""

    @abstractmethod
    async def renew_leases(self, deliveries: Sequence[Delivery]) -> None:
        """Hold leased deliveries (taken, not sent yet: queued behind a slow endpoint) for
        another `lease` from now, so that no taker takes them again meanwhile. Deliveries
        given back, finished or deleted since are left as they are."""

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

    async def abandon_deliveries(self, tenant: str, subscription_id: str) -> int:
        """Drop the subscription's deliveries never tried that no sender holds; how many."""
        return await self.trim_deliveries(tenant, subscription_id, 0)


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
    ordering: Ordering = field(default_factory=Ordering)  # orderBy (4.23), entities as now
    limit: int = 20
    offset: int = 0
    after: str | None = None  # keyset paging, as `EntityQuery.after`
    count: bool = False

    @property
    def id_order(self) -> str | None:
        """`ASC` or `DESC` when entities are ordered by their id alone (the default); None when
        `orderBy` names something else, which the store reads from the current entities."""
        order = self.ordering.order
        if not order:
            return "ASC"
        if len(order) == 1 and order[0].attribute == "id" and order[0].entity_member:
            return "DESC" if order[0].descending else "ASC"
        return None

    def entity_ordering(self) -> EntityQuery:
        """The ordering part of the query as an entity query's, for a store's ORDER BY."""
        ordering = self.ordering
        return EntityQuery(
            order=ordering.order, order_from=ordering.order_from, collation=ordering.collation
        )

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
    #: per attribute and method, its `[value, start, end]` buckets: a list, or the list's
    #: JSON when it can be large (`periods.AggregatedPeriods`)
    aggregates: dict[str, dict[str, list[list[Any]] | orjson.Fragment]] = field(
        default_factory=dict
    )


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
