"""The text a pattern's matches must hold (`dalgu.query.pattern_text`): whatever the pattern
and the value, a value the pattern finds starts with the prefix and holds the literal."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from dalgu.query.pattern_text import PatternText, pattern_text

PIECES = st.sampled_from(
    [
        "a", "b", "ab", "ba", ":", "-", "0", "12", ".", ".*", ".+", "a*", "b?", "a{2}",
        "[ab]", "[^a]", "(ab)", "(a|b)", "(?:ba)", "|", "^", "$", r"\A", r"\Z", r"\b",
        r"\.", r"\d", r"\-", "(?i)", "(?m)", "(?i:a)", "x",
    ]
)  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(PIECES, min_size=1, max_size=7), st.data())
def test_a_value_the_pattern_finds_holds_the_text(pieces: list[str], data: st.DataObject) -> None:
    pattern = "".join(pieces)
    try:
        compiled = re.compile(pattern)
    except re.error:
        assert pattern_text(pattern) == PatternText(None, None)
        return
    text = pattern_text(pattern)
    # values the pattern finds, as hypothesis writes them from the pattern itself
    for value in data.draw(st.lists(st.from_regex(compiled), min_size=1, max_size=5)):
        assert compiled.search(value) is not None
        assert text.prefix is None or value.startswith(text.prefix), (pattern, value)
        assert text.inside is None or text.inside in value, (pattern, value)


def test_the_text_of_the_patterns_people_write() -> None:
    assert pattern_text("^urn:ngsi-ld:Vehicle:") == PatternText(
        "urn:ngsi-ld:Vehicle:", "urn:ngsi-ld:Vehicle:"
    )
    assert pattern_text(r"\Aurn:a\.b.*") == PatternText("urn:a.b", "urn:a.b")
    assert pattern_text("urn:ngsi-ld:Vehicle:.*") == PatternText(None, "urn:ngsi-ld:Vehicle:")
    assert pattern_text(".*bench-0012.*") == PatternText(None, "bench-0012")
    assert pattern_text("^urn:x:[0-9]+:sensor") == PatternText("urn:x:", ":sensor")
    # alternatives that begin alike share their beginning; others share nothing
    assert pattern_text("^urn:a|^urn:b") == PatternText("urn:", "urn:")
    assert pattern_text("^urn:a|urn:b") == PatternText(None, None)
    # flags that change what a literal matches, a group, a bad pattern: nothing
    assert pattern_text("(?i)^urn:a") == PatternText(None, None)
    assert pattern_text("(?m)^urn:a") == PatternText(None, None)
    assert pattern_text("^(urn:a)") == PatternText(None, None)
    assert pattern_text("^urn:(") == PatternText(None, None)


def test_a_posix_bracket_expression_gives_no_text() -> None:
    """RE2 reads `[[:upper:]]` as one class; Python's parser as `[[:upper:]` and the text `]`
    (cons-11: the embedded store required `]lpha` in "Alpha")."""
    for pattern in ("[[:upper:]]lpha", "^[[:alpha:]]x", "[[=a=]]lpha", "[[.a.]]lpha"):
        assert pattern_text(pattern) == PatternText(None, None), pattern
