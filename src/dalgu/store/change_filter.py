"""Which changes of a tenant its subscriptions could be about: the outbox records only those.

The outbox holds every change a notifier must look at, written in the change's own transaction
with the entity before and after. A tenant with one subscription on `Alert` entities would
otherwise copy every update of every sensor and vehicle into it for the notifier to read and
drop (the vehicle fleet: a third of the notifier's and a tenth of the server's work). A change
is recorded when some subscription of its tenant could match it by entity type:

- a subscription without entity selectors (watched attributes only) matches any type, and so
  does one whose selector's type is a type selection (`(Building|Tower)`: stored as written, in
  the subscription's own terms, which only its @context expands); then every change is kept;
- otherwise a change is kept when its entity had or has one of the selectors' types (IRIs, as
  stored), before or after the change (a type added by the change counts).

What a notifier does with the recorded changes (q, watched attributes, triggers) is unchanged;
this only leaves out changes no subscription could match.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dalgu.query.typesel import is_type_selection


@dataclass(frozen=True, slots=True)
class ChangeFilter:
    """The entity types some subscription of a tenant selects; None: any entity."""

    types: frozenset[str] | None

    def wants(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
        """Whether a change (the entity before and after it, None where it did not exist)
        could match some subscription."""
        if self.types is None:
            return True
        for entity in (before, after):
            if entity is not None and not self.types.isdisjoint(entity.get("type", ())):
                return True
        return False


def change_filter(subscriptions: Iterable[dict[str, Any]]) -> ChangeFilter | None:
    """The filter for a tenant's subscription documents; None when it has none (nothing is
    recorded)."""
    types: set[str] = set()
    found = False
    for doc in subscriptions:
        found = True
        selectors = doc.get("entities") or ()
        if not selectors:
            return ChangeFilter(None)
        for selector in selectors:
            kind = selector.get("type") if isinstance(selector, dict) else None
            if not isinstance(kind, str) or is_type_selection(kind):
                return ChangeFilter(None)
            types.add(kind)
    return ChangeFilter(frozenset(types)) if found else None


#: every change recorded (an in-process consumer asked for all of them)
EVERYTHING = ChangeFilter(None)
