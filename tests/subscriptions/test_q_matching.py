"""A subscription's `q`, matched in the notifier against a changed entity's index rows, holds
for the same values as the stores' queries do (the same q must select the same entities)."""

from __future__ import annotations

import pytest

from dalgu.query.q import parse_q
from dalgu.store.indexing import IndexRow
from dalgu.subscriptions.matching import q_ok

VALUES = {"date": "2025-01-01", "time": "10:00:00", "stamp": "2025-01-01T10:00:00.500000Z"}


@pytest.mark.parametrize(
    ("q", "holding"),
    [
        ("t<23:59:59", ["time"]),
        ("t>09:00:00", ["time"]),
        ("t<2025-01-01T10:00:00.600Z", ["stamp"]),
        ("t>2024-12-31", ["date"]),
        ("t==2024-12-01..2025-02-01", ["date"]),
        ("t==2025-01-01", ["date"]),
    ],
)
def test_dates_times_and_date_times_are_ordered_only_among_their_own_kind(
    q: str, holding: list[str]
) -> None:
    """Clause 4.9: an ordering matches no value of another data type (a Date was after
    09:00:00 and before 23:59:59)."""
    expr = parse_q(q)
    found = [
        name
        for name, text in VALUES.items()
        if q_ok(expr, {}, {("t", ""): [IndexRow("t", "", "s", None, text)]})
    ]
    assert found == holding
