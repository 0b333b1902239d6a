"""The regular expressions clients send: `idPattern` (of queries, subscriptions and
registrations) and `q`'s `~=` and `!~=`.

They are compiled by RE2 (google-re2), whose matching takes time linear in the text whatever
the pattern. With Python's `re`, one pattern with nested repetition (`(a+)+$`) over ids of 30
letters backtracked for minutes, holding the worker, and every other request it had, until it
was killed. RE2 has no backreferences and no lookaround (nor has POSIX's extended syntax); a
pattern that uses them, or that RE2 cannot hold within its memory budget, is refused as
`BadRequestData` with RE2's reason. So is one whose meaning PostgreSQL's engine cannot be
given in its own syntax (`dalgu.query.regex_syntax`: Unicode classes, flags after the start):
both stores refuse it rather than each match it differently.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any, Protocol, cast

import re2  # type: ignore[import-untyped]

from dalgu.errors import BadRequestData, quoted
from dalgu.query.regex_syntax import portability_problem

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # the pattern is the client's mistake: said in its answer, not logged
# `.` matches a newline too, as in IEEE 1003.2 (POSIX) extended expressions, which clause 4.9
# names, and as PostgreSQL's engine has it: `line.break` found "line\nbreak" there only
_OPTIONS.dot_nl = True


class Pattern(Protocol):
    """A compiled pattern: `search` finds a match anywhere in `text`, or gives None;
    `finditer` every match, left to right; `groupindex` its named groups' numbers."""

    groupindex: dict[str, int]

    def search(self, text: str) -> Any: ...

    def finditer(self, text: str) -> Iterator[Any]: ...


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Pattern | str:
    try:
        compiled = cast(Pattern, re2.compile(pattern, _OPTIONS))
    except re2.error as error:
        reason = error.args[0] if error.args else "invalid"
        return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    problem = portability_problem(pattern)
    return compiled if problem is None else problem


def compile_pattern(pattern: str, what: str = "the pattern") -> Pattern:
    """`pattern` compiled (kept for the next call), or `BadRequestData` naming `what` it is
    (`idPattern`) and RE2's reason."""
    compiled = _compiled(pattern)
    if isinstance(compiled, str):
        raise BadRequestData(
            f"{what} {quoted(pattern)} is not a regular expression Dalgu runs: {compiled}"
        )
    return compiled


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be run (RE2's words), or None when it can."""
    compiled = _compiled(pattern)
    return compiled if isinstance(compiled, str) else None


def searches(pattern: str, text: str) -> bool:
    """Does `pattern` match somewhere in `text`; a pattern that cannot be run matches nothing
    (it was refused when it was given; one stored before this check finds nothing)."""
    compiled = _compiled(pattern)
    return not isinstance(compiled, str) and compiled.search(text) is not None
