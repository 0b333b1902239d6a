"""Measures left out of an update, as the IoT Agents leave them out: the rest is stored.

A measure whose value does not fit its attribute's type (`t|abc` for a `Number`, `on|yes` for
a `Boolean`), a `null` (a JSON firmware's channel without a reading), or one the broker's
parser refuses alone (a geometry off the globe) is left out of its entity's update, and the
message's other measures are stored: the agents' NGSI-LD conversion drops such an attribute
(`convertAttrNGSILD` gives nothing for a null, a NaN or a number that is none) and sends the
others. Each is logged (logger `dalgu.devices.omission`, fields `device`, `field`, `reason`)
once per device, measure and reason, so a sensor that keeps sending a broken channel does not
flood the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dalgu.broker.model import ENTITY_KEYS
from dalgu.devices.mapping import DeviceBinding
from dalgu.errors import DalguError

log = logging.getLogger(__name__)

_MAX_LOGGED = 256  # distinct omissions remembered per device binding


class Omissions:
    """The measures one device binding left out, each logged the first time."""

    def __init__(self, binding: DeviceBinding) -> None:
        self.binding = binding
        self._logged: set[tuple[str, str]] = set()

    def note(self, measure: str, reason: str) -> None:
        """Measure `measure` was left out of the update for `reason`."""
        key = (measure, reason)
        if key in self._logged or len(self._logged) >= _MAX_LOGGED:
            return
        self._logged.add(key)
        binding = self.binding
        log.warning(
            "measure %r of device %r left out of the update: %s (its other measures are stored)",
            measure,
            binding.device_id,
            reason,
            extra={
                "apikey": binding.apikey[:4] + "…",
                "device": binding.device_id,
                "field": measure,
                "reason": reason,
            },
        )

    def without_unparsable(
        self, fragment: dict[str, Any], parse: Callable[[dict[str, Any]], Any]
    ) -> dict[str, Any]:
        """The entity fragment less each attribute that `parse` (the broker's parser)
        refuses alone. An error of the entity itself (its id, its type) is raised: it is no
        measure's."""
        bare = {"id": fragment["id"], "type": fragment["type"]}
        parse(bare)
        kept = dict(fragment)
        for name in fragment.keys() - ENTITY_KEYS:
            try:
                parse({**bare, name: fragment[name]})
            except DalguError as error:
                self.note(name, error.detail)
                del kept[name]
        return kept
