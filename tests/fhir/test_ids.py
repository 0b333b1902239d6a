"""Server-assigned ids: valid FHIR ids, UUIDs in the version 7 layout, sorting by creation."""

from __future__ import annotations

import time
import uuid

from dalgu.fhir.ids import new_id
from dalgu.fhir.validation import valid_id


def test_ids_are_version_7_uuids_and_fhir_ids() -> None:
    made = new_id()
    assert valid_id(made)
    parsed = uuid.UUID(made)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert abs((parsed.int >> 80) - time.time() * 1000) < 5_000  # its milliseconds are now's


def test_later_ids_sort_after_earlier_ones() -> None:
    earlier = [new_id() for _ in range(100)]
    time.sleep(0.002)
    later = new_id()
    assert all(e < later for e in earlier)
    assert len(set(earlier)) == 100
