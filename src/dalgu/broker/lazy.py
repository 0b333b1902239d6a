"""Lazy attributes: values the broker does not store but asks their source for on a read.

In NGSI-LD a FIWARE IoT Agent registers as a context source for a device's lazy attributes,
and the broker forwards a read of them to it. Dalgu's gateway runs in the broker's process, so
the forwarding is a call: a service that can provide attribute values registers a
`LazyAttributeProvider` with the entity service, and Retrieve Entity asks each provider for the
attributes it has for that entity. The broker knows nothing of devices or transports.
"""

from __future__ import annotations

from typing import Any, Protocol

from dalgu.broker.model import Entity

Instances = list[dict[str, Any]]


class LazyAttributeProvider(Protocol):
    """A source of attribute values that are read on demand, not stored."""

    async def serves(self, tenant: str, entity_id: str) -> bool:
        """Whether this source may provide attributes of the entity (quickly, no I/O to
        devices): a read of any other entity is answered from the store alone."""
        ...

    async def provide(
        self, tenant: str, entity: Entity, attrs: frozenset[str] | None
    ) -> dict[str, Instances]:
        """Attribute IRI → instances (expanded form) of `entity` this source provides, limited
        to `attrs` when given. It answers quickly with {} for an entity it knows nothing of,
        and leaves out (never raises for) a value its source did not give in time."""
        ...
