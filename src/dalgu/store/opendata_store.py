"""The open-data catalogue's store interface: the datasets a tenant publishes, as documents
(one implementation per backend; services import it from `dalgu.store.base`).

A tenant has tens or hundreds of datasets, not millions: search, facets and sorting are the
service's, over `datasets(tenant)`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any

#: rows of `generations` that keep, per tenant, its catalogue's first issue and last change,
#: in microseconds since 1970 (UTC), with the writes that set them: no table of their own
ISSUED_ROW = "datasets-issued:"
MODIFIED_ROW = "datasets-modified:"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def microseconds(at: datetime | None) -> int:
    """`at` (now when None; a time without a zone is UTC) in microseconds since 1970."""
    moment = datetime.now(UTC) if at is None else at
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def moment(value: int | None) -> datetime | None:
    """A time `microseconds` gave, back (UTC); None for None."""
    if value is None:
        return None
    seconds, micros = divmod(int(value), 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


class DatasetStore(ABC):
    """Open-data datasets of each tenant, keyed by id, each with a name unique in its tenant.

    Documents are the stored form of `dalgu.opendata.model.Dataset` (`to_document`).
    """

    @abstractmethod
    async def put_dataset(
        self,
        tenant: str,
        dataset_id: str,
        name: str,
        document: dict[str, Any],
        *,
        create: bool,
        at: datetime | None = None,
    ) -> None:
        """Store a dataset. `create` fails with AlreadyExists when its id or name is taken;
        otherwise the dataset with that id is replaced (ResourceNotFound when there is none,
        AlreadyExists when the new name is another dataset's). `at` (default now) is kept, in
        the same transaction, as the tenant's catalogue's last change unless a later one is
        kept, and on `create` as its first issue unless an earlier one is
        (`catalogue_times`)."""

    @abstractmethod
    async def get_dataset(self, tenant: str, id_or_name: str) -> dict[str, Any] | None:
        """The dataset whose id or name is `id_or_name`, or None."""

    @abstractmethod
    async def datasets(self, tenant: str) -> list[dict[str, Any]]:
        """Every dataset of the tenant, by name."""

    @abstractmethod
    async def delete_dataset(
        self, tenant: str, dataset_id: str, *, at: datetime | None = None
    ) -> bool:
        """Delete it for good; False when there was none. `at` (default now) is kept as the
        catalogue's last change, as a put's is, when there was one."""

    @abstractmethod
    async def catalogue_times(self, tenant: str) -> tuple[datetime | None, datetime | None]:
        """When the tenant's catalogue was first issued and last changed (a deletion too), as
        puts and deletes kept them (UTC); None for what none kept (the catalogues of a
        Dalgu before these times were kept, until their next write)."""

    @abstractmethod
    async def datasets_generation(self) -> int:
        """A number that every put or delete of a dataset (of any tenant, by any process)
        changes: a reader that kept `datasets(tenant)` at this number may use it as long as
        the number stays the same."""
