"""`mutations.in_order`: a write's `modifiedAt` is later than the stored entity's, and only the
instances the write changed are re-stamped."""

from __future__ import annotations

import copy
from typing import Any

from dalgu.broker.mutations import in_order

T = "2026-12-07T15:00:00.500Z"
RING = "https://example.org/ring"
STATUS = "https://example.org/ring_status"


def _entity(status: str, status_at: str) -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:Bell:b1",
        "type": "https://example.org/Bell",
        "createdAt": "2026-12-07T14:00:00.000Z",
        "modifiedAt": T,
        RING: [{"type": "Property", "value": "", "createdAt": T, "modifiedAt": T}],
        STATUS: [{"type": "Property", "value": status, "createdAt": T, "modifiedAt": status_at}],
    }


def test_a_write_stamped_in_the_stored_millisecond_is_a_millisecond_later() -> None:
    current = _entity("PENDING", T)

    def result(entity: dict[str, Any] | None) -> dict[str, Any]:
        assert entity is not None
        changed = copy.deepcopy(entity)
        changed[STATUS] = [{"type": "Property", "value": "OK", "createdAt": T, "modifiedAt": T}]
        return changed

    new = in_order(result)(current)
    assert new is not None
    assert new["modifiedAt"] == "2026-12-07T15:00:00.501Z"
    assert new[STATUS][0]["modifiedAt"] == "2026-12-07T15:00:00.501Z"
    # the command attribute this write did not touch keeps its time, though it is the same
    # millisecond: re-stamped, it looked changed and its command was sent again
    assert new[RING][0]["modifiedAt"] == T


def test_a_write_stamped_after_the_stored_one_is_left_as_it_is() -> None:
    current = _entity("PENDING", T)
    later = "2026-12-07T15:00:01.000Z"

    def result(entity: dict[str, Any] | None) -> dict[str, Any]:
        assert entity is not None
        changed = copy.deepcopy(entity)
        changed["modifiedAt"] = later
        return changed

    new = in_order(result)(current)
    assert new is not None and new["modifiedAt"] == later
