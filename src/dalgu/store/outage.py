"""Store outages met by background loops (the notifier, command expiry): logged once as a line
when they begin and once when they end, not as a traceback every half second."""

from __future__ import annotations

import logging

from dalgu.errors import StoreUnavailable
from dalgu.store.base import EntityStore


def outage_of(store: object, error: BaseException) -> StoreUnavailable | None:
    """`error` as the outage `store` reports, or None (another failure, or not a store)."""
    return store.outage(error) if isinstance(store, EntityStore) else None


class OutageWatch:
    """What a background loop says of its failures: a store outage once when it begins and once
    when the loop succeeds again; any other failure with its traceback, each time."""

    def __init__(self, log: logging.Logger, loop: str) -> None:
        self.log = log
        self.loop = loop
        self.down = False

    def failed(self, store: object, error: BaseException) -> None:
        outage = outage_of(store, error)
        if outage is None:
            self.log.exception("%s failed", self.loop)
        elif not self.down:
            self.log.warning("%s waits for the store: %s", self.loop, outage.detail)
        self.down = outage is not None

    def succeeded(self) -> None:
        if self.down:
            self.log.warning("%s: the store answers again", self.loop)
            self.down = False
