"""A pattern means one thing on both stores: what RE2 finds (the embedded store), PostgreSQL's
engine finds with the pattern written in its syntax (`postgres_pattern`), on the columns'
"C" collation; what cannot be written so is refused on both (cons-14)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
import re2  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dalgu.query.regex import pattern_problem, searches
from dalgu.query.regex_syntax import portability_problem, postgres_pattern
from tests.databases import ADMIN_DSN

pytestmark = pytest.mark.postgres

TEXTS = [
    *("e1", "e12", "e1 x", "Alpha", "Alphabet", "a.b", "axb", "ä", "Ä", "Éclair", "éclair"),
    *("äb", "ÄB", "x{,3}", "aa", "aab", "A", "5x", "a\nb", "b", "]", "a", "", "abc"),
    *("word x", "a-b", "{x}", "}x", "a\\b", "é-x", "Ab1_", " x", "ß", "ẞ", "x^"),
]
PATTERNS = [
    *(r"e1\b", r"Alpha\b", r"\bAl", r"\Bph", r"e1\z", r"\Qa.b\E", r"(?P<x>e1)", r"(?<x>e1)"),
    *(r"(?i)^ä$", r"(?i)^É", r"(?i)ÄB", r"[[:upper:]]lpha", r"[[:alpha:]]+", r"x{,3}"),
    *(r"a{2}", r"a{1,}b", r"\x41", r"\x{e4}", r"[\d]x", r"(?m)^b", r"(?s)a.b", r"(?U)a+"),
    *(r"[]a]", r"[^]a]", r"\.", r"a|b", r"^$", r"[a-c]+$", r"\w+\s", r"[\w-]+", r"\{x\}"),
    *(r"}x", r"\101", r"(?i)[ä]b", r"(?i)[a-z]+\d", r"a\\b", r"[\\]", r"[\]]", r"x\^"),
    *(r"(?im)^B$", r"[[:punct:]]b", r"(?:a|b)+c", r"\Ax", r"é-x", r"(?i)ß"),
]


def _agree(patterns: list[str], texts: list[str]) -> list[tuple[str, str, bool, bool]]:
    async def run() -> list[tuple[str, str, bool, bool]]:
        conn = await asyncpg.connect(ADMIN_DSN)
        differ = []
        try:
            for pattern in patterns:
                found = await conn.fetchval(
                    'SELECT array_agg(t COLLATE "C" ~ $2 ORDER BY n) '
                    "FROM unnest($1::text[]) WITH ORDINALITY AS x(t, n)",
                    texts,
                    postgres_pattern(pattern),
                )
                for text, there in zip(texts, found, strict=True):
                    if there != searches(pattern, text):
                        differ.append((pattern, text, searches(pattern, text), there))
        finally:
            await conn.close()
        return differ

    return asyncio.run(run())


def test_the_patterns_people_write_find_the_same_text_on_both_engines() -> None:
    for pattern in PATTERNS:
        assert pattern_problem(pattern) is None, pattern
        assert portability_problem(pattern) is None, pattern
    assert _agree(PATTERNS, TEXTS) == []


PIECES = st.sampled_from(
    [
        "a", "b", "A", "ä", "Ä", "é", "1", ".", ".*", "a+", "b?", "a{2}", "{", "}", "{,2}",
        "[ab]", "[^a]", "[[:alpha:]]", "[[:digit:]]", "[]b]", r"[\d]", "(ab)", "(a|b)", "(?:ba)",
        "(?P<n>a)", "|", "^", "$", r"\A", r"\z", r"\b", r"\B", r"\.", r"\d", r"\w", r"\s",
        r"\Qa.\E", r"\x41", r"\x{e4}", r"\\", "-", " ",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["", "(?i)", "(?m)", "(?s)"]), st.lists(PIECES, min_size=1, max_size=6))
def test_any_pattern_both_engines_run_finds_the_same_text(flags: str, pieces: list[str]) -> None:
    pattern = flags + "".join(pieces)
    if pattern_problem(pattern) is not None or portability_problem(pattern) is not None:
        return
    assert _agree([pattern], TEXTS) == []


@pytest.mark.parametrize(
    "pattern", [r"^\p{Lu}l", r"\pL", r"a(?i)b", r"(?i:a)b", r"(?-i)a", r"a\C", r"[\D]"]
)
def test_what_one_engine_cannot_read_alike_is_named(pattern: str) -> None:
    """RE2 runs these; PostgreSQL's syntax has no equal: refused on both stores."""
    re2.compile(pattern)
    problem = portability_problem(pattern)
    assert problem is not None
    assert pattern_problem(pattern) == problem
