"""The open-data catalogue's store interface: the datasets a tenant publishes, as documents
(one implementation per backend; services import it from `dalgu.store.base`).

A tenant has tens or hundreds of datasets, not millions: search, facets and sorting are the
service's, over `datasets(tenant)`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class DatasetStore(ABC):
    """Open-data datasets of each tenant, keyed by id, each with a name unique in its tenant.

    Documents are the stored form of `dalgu.opendata.model.Dataset` (`to_document`).
    """

    @abstractmethod
    async def put_dataset(
        self, tenant: str, dataset_id: str, name: str, document: dict[str, Any], *, create: bool
    ) -> None:
        """Store a dataset. `create` fails with AlreadyExists when its id or name is taken;
        otherwise the dataset with that id is replaced (ResourceNotFound when there is none,
        AlreadyExists when the new name is another dataset's)."""

    @abstractmethod
    async def get_dataset(self, tenant: str, id_or_name: str) -> dict[str, Any] | None:
        """The dataset whose id or name is `id_or_name`, or None."""

    @abstractmethod
    async def datasets(self, tenant: str) -> list[dict[str, Any]]:
        """Every dataset of the tenant, by name."""

    @abstractmethod
    async def delete_dataset(self, tenant: str, dataset_id: str) -> bool:
        """Delete it for good; False when there was none."""

    @abstractmethod
    async def datasets_generation(self) -> int:
        """A number that every put or delete of a dataset (of any tenant, by any process)
        changes: a reader that kept `datasets(tenant)` at this number may use it as long as
        the number stays the same."""
