"""The collation prefix an SQLite string row keeps (`collation.primary_prefix`) never orders a
string after one the root collation puts after it: walking the prefixes in order meets the
strings in their order, up to ties."""

from __future__ import annotations

from functools import cmp_to_key

from hypothesis import given, settings
from hypothesis import strategies as st

from dalgu.store.sqlite.collation import _primaries, _sort_key, compare_root, primary_prefix

# ASCII, the Latin letters with their accents, Hangul, combining marks, the middle dot that
# joins an L (a contraction), ignorable controls, full-width forms
ALPHABET = st.sampled_from(
    [chr(c) for c in range(128)] + list("äåéèøßÆæıİǅ가나다각가·\u0301\u0308\u00adＡＢｃ대구서울")
)
TEXTS = st.text(ALPHABET, max_size=8)


def test_no_two_ascii_characters_join_or_expand() -> None:
    """What the ASCII fast path takes for granted: each character's weights alone."""
    for a in range(128):
        alone = _primaries(_sort_key(chr(a)))
        assert len(alone) <= 1
        for b in range(128):
            pair = _primaries(_sort_key(chr(a) + chr(b)))
            assert pair == alone + _primaries(_sort_key(chr(b))), (a, b)


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
