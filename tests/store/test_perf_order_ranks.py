"""perf-7: what SQLite's orderBy compares, kept the same while made cheaper.

Ordering by a sub-attribute such as `.observedAt` ranks each string by the patterns of clause
4.23.2 (date-time, date, time); SQLite tested them with `regexp`, a Python call for each row,
and now tests the date-time and date patterns with a GLOB. Strings equal under the root
collation tie without their collation keys. Both must decide exactly as before.
"""

from __future__ import annotations

import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from dalgu.query.order import TEMPORAL_GLOBS, TEMPORAL_RANKS
from dalgu.query.regex import searches
from dalgu.store.sqlite.collation import compare_root, sort_key

SAMPLES = [
    "2024-05-06T07:08:09.123456Z",
    "2024-05-06T07:08:09.123456Z\n",
    "2024-05-06T07:08:09.123456z",
    "2024-05-06t07:08:09.123456Z",
    "2024-05-06T07:08:09.12345Z",
    "2024-05-06T07:08:09.1234567Z",
    "2024-05-06T07:08:09Z",
    "x2024-05-06T07:08:09.123456Z",
    "2024-05-06T07:08:09,123456Z",
    "2024-05-06T07:08:09.12345\u0663Z",
    "\u0662024-05-06",
    "2024-05-06",
    "2024-05-06\n",
    "2024-5-06",
    "2024-05-06 ",
    "2024/05/06",
    "20240506",
    "07:08",
    "",
    "free",
    "[0-9]",
    "*",
]

digits_and_marks = st.text(alphabet="0123456789-:.TZtz \n\u0663", max_size=30)


def _globs(pattern: str, text: str) -> bool:
    db = sqlite3.connect(":memory:")
    try:
        return bool(db.execute("SELECT ? GLOB ?", (text, pattern)).fetchone()[0])
    finally:
        db.close()


def test_the_globs_are_the_date_time_and_date_patterns() -> None:
    assert set(TEMPORAL_GLOBS) == {TEMPORAL_RANKS[0][0], TEMPORAL_RANKS[1][0]}


def test_each_glob_decides_as_its_pattern_on_edge_cases() -> None:
    for pattern, glob in TEMPORAL_GLOBS.items():
        for text in SAMPLES:
            assert _globs(glob, text) == searches(pattern, text), (pattern, text)


@settings(deadline=None)
@given(
    st.one_of(
        digits_and_marks,
        st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
        st.dates().map(str),
    )
)
def test_each_glob_decides_as_its_pattern(text: str) -> None:
    for pattern, glob in TEMPORAL_GLOBS.items():
        assert _globs(glob, text) == searches(pattern, text)


def test_equal_strings_tie_without_their_collation_keys() -> None:
    sort_key.cache_clear()
    assert compare_root("occupied", "occupied") == 0
    assert sort_key.cache_info().misses == 0


@settings(deadline=None)
@given(st.text(max_size=6), st.text(max_size=6))
def test_the_root_order_is_unchanged(a: str, b: str) -> None:
    ka, kb = sort_key(a), sort_key(b)
    expected = (ka > kb) - (ka < kb) or (a > b) - (a < b)
    assert compare_root(a, b) == expected
    assert compare_root(a, a) == 0
