"""Attribute keys: each (tenant, attribute IRI, path) as a small integer (`attr_keys.nid`).

Keys are only ever added, never changed or removed, so a key once seen can be cached for the
life of the process; an unknown key is always looked up again (another process may have
added it since).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dalgu.errors import Conflict

_LOOKUP = """
SELECT k.nid, k.name, k.path
FROM unnest($2::text[], $3::text[]) AS w(name, path)
JOIN attr_keys k ON k.tenant = $1 AND md5(k.name) = md5(w.name) AND md5(k.path) = md5(w.path)
    AND k.name = w.name AND k.path = w.path
"""

_ADD = """
INSERT INTO attr_keys (tenant, name, path)
SELECT $1, w.name, w.path FROM unnest($2::text[], $3::text[]) AS w(name, path)
ON CONFLICT DO NOTHING
RETURNING nid, name, path
"""

_BY_NAME = """
SELECT nid, path FROM attr_keys WHERE tenant = $1 AND md5(name) = md5($2) AND name = $2
"""

Key = tuple[str, str, str]  # (tenant, attribute IRI, path)


class AttributeKeys:
    """The process-wide cache of attribute keys, and their lookup and creation in SQL."""

    def __init__(self, limit: int = 200_000) -> None:
        self._nids: dict[Key, int] = {}
        self._limit = limit

    def cached(self, key: Key) -> int | None:
        return self._nids.get(key)

    def remember(self, found: dict[Key, int]) -> None:
        if len(self._nids) + len(found) > self._limit:
            self._nids.clear()
        self._nids.update(found)

    async def find(
        self, conn: Any, tenant: str, pairs: Iterable[tuple[str, str]]
    ) -> dict[Key, int]:
        """The nids of the existing keys among `pairs` (missing ones are left out)."""
        found: dict[Key, int] = {}
        missing: list[tuple[str, str]] = []
        for name, path in pairs:
            nid = self._nids.get((tenant, name, path))
            if nid is None:
                missing.append((name, path))
            else:
                found[(tenant, name, path)] = nid
        if missing:
            fresh = {
                (tenant, name, path): nid
                for nid, name, path in await conn.fetch(
                    _LOOKUP, tenant, [m[0] for m in missing], [m[1] for m in missing]
                )
            }
            self.remember(fresh)
            found.update(fresh)
        return found

    async def paths(self, conn: Any, tenant: str, name: str) -> dict[str, int]:
        """Every path indexed under one attribute IRI, with its nid."""
        return {path: nid for nid, path in await conn.fetch(_BY_NAME, tenant, name)}

    async def ensure(
        self, conn: Any, tenant: str, pairs: set[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str], int], dict[Key, int]]:
        """nids for every pair, adding the missing keys inside the caller's transaction.

        Returns (pair → nid, the keys added): the caller remembers added keys only after its
        transaction commits, since a rollback takes them back.
        """
        nids: dict[tuple[str, str], int] = {}
        missing: list[tuple[str, str]] = []
        for pair in pairs:
            nid = self._nids.get((tenant, *pair))
            if nid is None:
                missing.append(pair)
            else:
                nids[pair] = nid
        added: dict[Key, int] = {}
        # Sorted, so that concurrent writers adding the same keys take their locks in one order.
        missing.sort()
        for _ in range(3):
            if not missing:
                break
            names, paths = [m[0] for m in missing], [m[1] for m in missing]
            for nid, name, path in await conn.fetch(_ADD, tenant, names, paths):
                nids[(name, path)] = nid
                added[(tenant, name, path)] = nid
            missing = [m for m in missing if m not in nids]
            if missing:  # added by a concurrent transaction that committed meanwhile
                names, paths = [m[0] for m in missing], [m[1] for m in missing]
                for nid, name, path in await conn.fetch(_LOOKUP, tenant, names, paths):
                    nids[(name, path)] = nid
                    self._nids[(tenant, name, path)] = nid
                missing = [m for m in missing if m not in nids]
        if missing:
            raise Conflict("attribute keys are being created concurrently; retry")
        return nids, added
