"""The collation prefix an SQLite string row keeps (`collation_prefix.primary_prefix`) never
orders a string after one the root collation puts after it: walking the prefixes in order meets
the strings in their order, up to ties. It is read from a table kept in the package, made from
pyuca's, which must agree with pyuca."""

from __future__ import annotations

import zlib
from functools import cmp_to_key
from importlib import resources

from hypothesis import given, settings
from hypothesis import strategies as st

from dalgu.store.sqlite.collation import compare_root, sort_key
from dalgu.store.sqlite.collation_prefix import (
    primary_prefix,
    range_prefix,
    shared_prefix,
    table_bytes,
)

# ASCII, the Latin letters with their accents, Hangul, combining marks, the middle dot that
# joins an L (a contraction), ignorable controls, full-width forms
ALPHABET = st.sampled_from(
    [chr(c) for c in range(128)] + list("äåéèøßÆæıİǅ가나다각가·\u0301\u0308\u00adＡＢｃ대구서울")
)
TEXTS = st.text(ALPHABET, max_size=8)


def _primaries(text: str) -> tuple[int, ...]:
    key = sort_key(text)
    return key[: key.index(0) if 0 in key else len(key)]


def _packed(weights: tuple[int, ...]) -> int:
    padded = (*weights[:3], 0, 0, 0)[:3]
    return (padded[0] << 32) | (padded[1] << 16) | padded[2]


def test_the_kept_table_is_pyuca_s() -> None:
    kept = (resources.files("dalgu.store.sqlite") / "collation_prefix.bin").read_bytes()
    assert zlib.decompress(kept) == zlib.decompress(table_bytes())


def test_every_character_of_the_plane_alone_has_pyuca_s_prefix() -> None:
    for cp in range(0x10000):
        if not 0xD800 <= cp <= 0xDFFF:
            char = chr(cp)
            assert primary_prefix.__wrapped__(char) == _packed(_primaries(char)), hex(cp)


def test_strings_of_several_characters_have_pyuca_s_prefix() -> None:
    words = ["L·lum", "l\u00b7", "Llum", "대구광역시", "café", "cafe\u0301", "ǅemal", "ß", "Æbc"]
    words += ["\u0301abc", "a\u0345b", "中文字", "😀a", "ab\x01c", "Ａｂｃ", "ıi", "ﬁx"]
    for word in words:
        assert primary_prefix.__wrapped__(word) == _packed(_primaries(word)), word


@settings(max_examples=600, deadline=None)
@given(TEXTS, TEXTS)
def test_a_string_that_orders_first_has_no_larger_prefix(a: str, b: str) -> None:
    if compare_root(a, b) < 0:
        assert primary_prefix(a) <= primary_prefix(b)
    elif compare_root(a, b) > 0:
        assert primary_prefix(a) >= primary_prefix(b)


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXTS, min_size=2, max_size=30))
def test_sorted_strings_have_sorted_prefixes(texts: list[str]) -> None:
    ordered = sorted(texts, key=cmp_to_key(compare_root))
    prefixes = [primary_prefix(t) for t in ordered]
    assert prefixes == sorted(prefixes)


def test_the_prefix_tells_apart_what_differs_in_its_first_three_letters() -> None:
    assert primary_prefix("apple") == primary_prefix("APPLE") == primary_prefix("äpple")
    assert primary_prefix("abc") < primary_prefix("abd") < primary_prefix("b")
    assert primary_prefix("") < primary_prefix(" ") < primary_prefix("9") < primary_prefix("a")
    assert primary_prefix("대구") < primary_prefix("서울")


@settings(max_examples=400)
@given(TEXTS, TEXTS)
def test_a_beginning_that_fixes_the_prefix_fixes_it_whatever_follows(head: str, tail: str) -> None:
    fixed = shared_prefix(head)
    if fixed is not None:
        assert fixed == primary_prefix(head + tail) == _packed(_primaries(head + tail))


@settings(max_examples=400)
@given(st.lists(TEXTS, min_size=3, max_size=3))
def test_a_range_s_prefix_is_every_string_s_between_its_bounds(texts: list[str]) -> None:
    low, middle, high = sorted(texts)  # code point order, as SQLite compares text
    fixed = range_prefix(low, high)
    if fixed is not None:
        assert fixed == primary_prefix(middle) == _packed(_primaries(middle))


def test_what_fixes_a_prefix() -> None:
    assert shared_prefix("50가0") == primary_prefix("50가0001")  # three weights from 5, 0, ᄀ
    assert shared_prefix("apple") == primary_prefix("apples")
    assert shared_prefix("ab") is None  # two weights: the third is the next letter's
    assert shared_prefix("L·l") is None  # L begins a contraction
    assert shared_prefix("ae\u0301b") is None  # a combining mark before the third weight
    assert range_prefix("10가0001", "10가0100") == primary_prefix("10가0050")
    assert range_prefix("a", "c") is None
