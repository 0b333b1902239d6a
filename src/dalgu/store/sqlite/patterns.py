"""A regular expression tested on a column, the text every match must hold tested first.

`regexp` is a Python function SQLite calls per row (`store.py`); a prefix the pattern is
anchored to becomes a range the column's index can find, a literal it must contain an `instr`
in C (`dalgu.query.pattern_text`). Both are implied by the pattern, so the condition is the
pattern's, only cheaper to refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dalgu.query.pattern_text import LAST, pattern_text


def matching(pattern: str, column: str, p: Callable[[Any], str]) -> str:
    """`column` matches `pattern`; `p` binds a parameter and gives its placeholder."""
    text = pattern_text(pattern)
    tests = []
    if text.prefix is not None:
        tests.append(f"{column} >= {p(text.prefix)} AND {column} < {p(text.prefix + LAST)}")
    elif text.inside is not None:
        tests.append(f"instr({column}, {p(text.inside)}) > 0")
    tests.append(f"regexp({p(pattern)}, {column})")
    return "(" + " AND ".join(tests) + ")"
