"""Which context sources an operation on an entity goes to (clauses 4.3.6, 5.12), and with
which of its attributes.

Each registration that matches gives a `Claim`: the registration, and the attribute IRIs it
registers for the entity (None: every attribute). Exclusive and redirect claims take their
attributes away from this broker; inclusive ones share them; auxiliary ones only add to reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dalgu.broker.model import now_iso
from dalgu.federation.operations import offered
from dalgu.query.regex import searches
from dalgu.registrations.model import entity_types

#: the modes whose attributes this broker does not hold (clause 4.3.6.3)
PROXIED = ("exclusive", "redirect")


@dataclass(frozen=True, slots=True)
class Claim:
    registration: dict[str, Any]
    #: the registered attribute IRIs for this entity; None: all of them
    attrs: frozenset[str] | None
    #: does the registration offer the operation? A proxied claim that does not is a Conflict
    offers: bool

    @property
    def mode(self) -> str:
        return str(self.registration.get("mode", "inclusive"))

    @property
    def proxied(self) -> bool:
        return self.mode in PROXIED

    @property
    def registration_id(self) -> str:
        return str(self.registration["id"])

    def takes(self, attr: str) -> bool:
        return self.attrs is None or attr in self.attrs

    def serves(self, asked: Iterable[str]) -> bool:
        """Does the registration hold one of the attributes a read asks for (IRIs; none
        asked: any)? Clause 5.12: else it does not match the request."""
        wanted = set(asked)
        return self.attrs is None or not wanted or bool(self.attrs & wanted)


def _info_names(info: dict[str, Any]) -> frozenset[str] | None:
    names = [*info.get("propertyNames", ()), *info.get("relationshipNames", ())]
    return frozenset(names) if names else None


def _entity_matches(
    info: dict[str, Any], entity_id: str | None, types: Sequence[str] | None
) -> bool:
    if types is not None and not set(entity_types(info)) & set(types):
        return False
    return entity_id is None or id_matches(info, entity_id)


def id_matches(entity: dict[str, Any], entity_id: str) -> bool:
    """Does an EntityInfo's `id` or `idPattern` (neither: any id) take `entity_id`?"""
    if "id" in entity:
        return bool(entity["id"] == entity_id)
    pattern = entity.get("idPattern")
    return pattern is None or searches(pattern, entity_id)


def _attrs_of(
    registration: dict[str, Any], entity_id: str | None, types: Sequence[str] | None
) -> tuple[bool, frozenset[str] | None]:
    """(does the registration hold the entity, which attributes of it)."""
    matched = False
    names: set[str] = set()
    for info in registration.get("information", ()):
        entities = info.get("entities")
        if entities and not any(_entity_matches(e, entity_id, types) for e in entities):
            continue
        own = _info_names(info)
        if own is None:
            return True, None
        matched = True
        names |= own
    return matched, frozenset(names) if matched else None


def holds(registration: dict[str, Any], entity_id: str, types: Sequence[str] | None) -> bool:
    """Does `registration` register the entity `entity_id` of `types` (None: not known)?"""
    return _attrs_of(registration, entity_id, types)[0]


def live(
    registrations: Iterable[dict[str, Any]], via: str, untenanted: str = ""
) -> list[dict[str, Any]]:
    """The registrations not expired and whose source the request has not passed already
    (the `Via` header, clause 4.3.6.4): its endpoint or alias in the tenant it is sent to
    (the registration's `tenant`, else `untenanted`), each tenant a source of its own."""
    now = now_iso()
    passed = hops(via) if via else set()
    kept = []
    for doc in registrations:
        expires = doc.get("expiresAt")
        if isinstance(expires, str) and expires <= now:
            continue
        if passed and _passed(doc, passed, untenanted):
            continue
        kept.append(doc)
    return kept


#: how a Dalgu hop of a Via header names the tenant it served: `1.1 host:port (tenant t)`
TENANT_COMMENT = "(tenant {})"


def hop(name: str, tenant: str) -> str:
    """This broker's Via hop for a request in `tenant` ("" the default one)."""
    return f"1.1 {name} {TENANT_COMMENT.format(tenant)}" if tenant else f"1.1 {name}"


def hops(via: str) -> set[tuple[str, str]]:
    """The (received-by, tenant) of each hop of a Via header (no comment: the default
    tenant)."""
    found = set()
    for entry in via.split(","):
        parts = entry.split(None, 2)
        if len(parts) < 2:
            continue
        comment = parts[2].strip() if len(parts) == 3 else ""
        tenant = ""
        if comment.startswith("(tenant ") and comment.endswith(")"):
            tenant = comment[len("(tenant ") : -1].strip()
        found.add((parts[1], tenant))
    return found


def _passed(registration: dict[str, Any], passed: set[tuple[str, str]], untenanted: str) -> bool:
    """Has the request passed the registration's source: its endpoint's host and port, or its
    `contextSourceAlias` (clause 5.12), in the tenant the registration sends it to?"""
    tenant = registration.get("tenant")
    target = tenant if isinstance(tenant, str) else untenanted
    alias = registration.get("contextSourceAlias")
    host = _host(str(registration.get("endpoint", "")))
    return (host, target) in passed or (isinstance(alias, str) and (alias, target) in passed)


def _host(endpoint: str) -> str:
    rest = endpoint.split("://", 1)[-1]
    return rest.split("/", 1)[0]


def claims(
    registrations: Iterable[dict[str, Any]],
    operation: str,
    entity_id: str | None,
    types: Sequence[str] | None,
    *,
    reads: bool = False,
) -> list[Claim]:
    """The claims of `registrations` on an entity (by id and/or types; None: not known) for
    `operation`. Inclusive and auxiliary registrations that do not offer it are left out;
    proxied ones stay, marked, as the operation's Conflict (clause 5.6.1.4). Auxiliary
    registrations count only for reads."""
    found = []
    for doc in registrations:
        mode = doc.get("mode", "inclusive")
        if mode == "auxiliary" and not reads:
            continue
        matched, attrs = _attrs_of(doc, entity_id, types)
        if not matched:
            continue
        offers = operation in offered(doc)
        if not offers and mode not in PROXIED:
            continue
        found.append(Claim(doc, attrs, offers))
    return found
