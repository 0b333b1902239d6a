"""What text every match of a regular expression holds, read from Python's own regex parser.

An `idPattern` (or a `q` `~=`) is matched with Python's `re.search`, which the SQLite store
calls once per entity through a function of its own: 1-2 µs each, 50-160 ms over 100,000
entities whatever the pattern. Most patterns name text a match cannot do without: an anchored
one (`^urn:ngsi-ld:Vehicle:`) a prefix, which the id index finds as a range, any other a
substring (`.*bench-0012.*`), which SQLite's `instr` tests in C before the pattern is run.

Only what the parser shows at the pattern's top level counts: a run of literal characters,
after `^` or `\\A` for a prefix. Anything else (a class, a group, a repeat, an alternation
with nothing in common) ends the run; a pattern with case-insensitive or multi-line flags has
neither. The parser folds alternatives that begin alike (`^abc|^abd` starts with `^ab`), and
what it writes matches what the pattern matches, so the text read is always required.

The patterns are matched by RE2 (`dalgu.query.regex`), whose syntax Python's parser mostly
shares. Where it does not, Python's parser must never read text that RE2's pattern does not
require: a POSIX bracket expression (`[[:upper:]]`, `[[=a=]]`, `[[.a.]]`, which clause 4.9's
IEEE 1003.2 patterns have and Python's `re` has not) reads in Python as `[[:upper:]` and the
text `]`; a pattern that holds one gives no text.
"""

from __future__ import annotations

import re
import re._constants as sre  # type: ignore[import-not-found]
import re._parser as sre_parse  # type: ignore[import-not-found]
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MIN_TEXT = 2  # one character in common rules out too few to be worth a test


@dataclass(frozen=True, slots=True)
class PatternText:
    """`prefix`: every match starts the value with it. `inside`: every match holds it."""

    prefix: str | None
    inside: str | None


_NONE = PatternText(None, None)
_ANCHORS = ((sre.AT, sre.AT_BEGINNING), (sre.AT, sre.AT_BEGINNING_STRING))
# `[:`, `[=` or `[.`: a POSIX class, equivalence class or collating symbol inside a bracket
_POSIX_BRACKET = re.compile(r"\[[:=.]")


@lru_cache(maxsize=512)
def pattern_text(pattern: str) -> PatternText:
    """The longest required literal of `pattern`, and its prefix if it is anchored."""
    if _POSIX_BRACKET.search(pattern):
        return _NONE
    try:
        with warnings.catch_warnings():  # "possible nested set" and the like: RE2's syntax
            warnings.simplefilter("ignore")
            parsed: Any = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return _NONE
    if parsed.state.flags & (re.IGNORECASE | re.MULTILINE):
        return _NONE
    items = list(parsed.data)
    anchored = bool(items) and items[0] in _ANCHORS
    runs: list[str] = []
    run: list[str] = []
    for op, argument in items:
        if op is sre.LITERAL:
            run.append(chr(argument))
            continue
        runs.append("".join(run))
        run = []
    runs.append("".join(run))
    prefix = runs[1] if anchored and len(runs) > 1 else None
    longest = max(runs, key=len)
    return PatternText(
        prefix if prefix and len(prefix) >= MIN_TEXT else None,
        longest if len(longest) >= MIN_TEXT else None,
    )


# greater than every character a URI or other text can hold (U+10FFFF is a noncharacter)
LAST = "\U0010ffff"
