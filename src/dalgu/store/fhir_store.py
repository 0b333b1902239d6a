"""The FHIR resource store's interface (issue 6): resources with their versions and search
indexes (one implementation per backend; services import it from `dalgu.store.base`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the FHIR types are pure values; imported for annotations only
    from dalgu.fhir.model import StoredResource
    from dalgu.fhir.search import SearchQuery
    from dalgu.fhir.searchparams import IndexRows


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
        their total; `since` (epoch seconds) keeps versions written at or after it. A
        version is `created` when it made the resource exist: the first, or one after a
        deletion."""

    @abstractmethod
    async def fhir_search(self, query: SearchQuery) -> tuple[list[StoredResource], int | None]:
        """Current resources matching a `SearchQuery`, one page, and the total if asked."""
