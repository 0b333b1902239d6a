"""A client's regular expression (clause 4.9's `~=`, `idPattern`) read as RE2 reads it, so
that both stores give it one meaning.

The embedded store matches with RE2 itself; PostgreSQL with its own engine (ARE), whose
syntax differs where POSIX leaves room: `\\b` is a backspace there, not a word boundary; `\\z`,
`\\Q...\\E`, named groups and `\\x{...}` are errors; flags go only at the very start. Each
pattern RE2 accepts is read here into pieces: `postgres_pattern` writes the same pattern in
PostgreSQL's syntax, and `portability_problem` names what has no meaning PostgreSQL can give
(Unicode classes `\\p{..}`, flags after the start, `\\C`), which is refused on both stores
rather than matched differently by each.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# a repeat RE2 reads as one; any other `{` is a literal brace
_REPEAT = re.compile(r"\{\d+(,\d*)?\}")
_LEADING_FLAGS = re.compile(r"\(\?([imsU]+)\)")
_NAMED_GROUP = re.compile(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>")
_FLAGS = re.compile(r"\(\?-?[imsU]+(-[imsU]+)?[:)]")
_OCTAL = re.compile(r"[0-7]{1,3}")
_HEX = re.compile(r"\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{2})")
# outside a bracket, escapes both engines read alike
_SHARED = frozenset("dDsSwWAafnrtv")
# inside a bracket, PostgreSQL allows \d \s \w (not their negations)
_SHARED_IN_BRACKET = frozenset("dswfnrtv")


@dataclass(frozen=True, slots=True)
class Translated:
    """A pattern in PostgreSQL's syntax, or why it has none."""

    text: str
    problem: str | None = None


def _literal(char: str, bracket: bool = False, folded: bool = False) -> str:
    """`char` as a literal in PostgreSQL's syntax. `folded` (a case-insensitive pattern): a
    letter beyond ASCII with its other cases, as RE2 folds them (PostgreSQL's `(?i)` folds
    only ASCII under the columns' "C" collation)."""
    if ord(char) > 127:
        variants = "".join(_cases(char)) if folded else char
        return variants if bracket or len(variants) == 1 else f"[{variants}]"
    if char.isalnum() or char == "_":
        return char
    if char.isprintable() and char != " ":
        return "\\" + char
    return f"\\x{ord(char):02x}"


@lru_cache(maxsize=1)
def _lowered() -> dict[str, list[str]]:
    """Each lower-case letter beyond ASCII and every letter that lowers to it (ẞ to ß)."""
    found: dict[str, list[str]] = {}
    for code in range(128, 0x10000):
        lowered = chr(code).lower()
        if len(lowered) == 1 and lowered != chr(code):
            found.setdefault(lowered, []).append(chr(code))
    return found


def _cases(char: str) -> list[str]:
    """`char` and the letters one case from it, as RE2's case folding matches them."""
    lower = char.lower() if len(char.lower()) == 1 else char
    cases = [char, lower, *_lowered().get(lower, ())]
    cases += [c for c in (char.upper(), char.swapcase()) if len(c) == 1]
    return list(dict.fromkeys(cases))


@lru_cache(maxsize=1024)
def translate(pattern: str) -> Translated:
    """`pattern` (one RE2 accepts) in PostgreSQL's regular-expression syntax."""
    out: list[str] = []
    i, n = 0, len(pattern)
    leading = _LEADING_FLAGS.match(pattern)
    folded = bool(leading and "i" in leading.group(1))
    if leading:
        flags = leading.group(1)
        # RE2's `m` (^ and $ at lines; `.` already matches a newline) is PostgreSQL's `w`;
        # `s` is both engines' default here, `U` (lazy) does not change whether text matches
        kept = "".join(sorted({"i": "i", "m": "w"}[f] for f in set(flags) if f in "im"))
        out.append(f"(?{kept})" if kept else "")
        i = leading.end()
    bracket = False
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            code = pattern[i + 1]
            if code == "Q":
                end = pattern.find("\\E", i + 2)
                stop = n if end < 0 else end
                out.extend(_literal(c, bracket, folded) for c in pattern[i + 2 : stop])
                i = n if end < 0 else end + 2
                continue
            if code == "x":
                hexed = _HEX.match(pattern, i + 2)
                if hexed is None:
                    return Translated("", f"a bad escape at character {i + 1}")
                value = chr(int(hexed.group(1) or hexed.group(2), 16))
                out.append(_literal(value, bracket, folded))
                i = hexed.end()
                continue
            if code in "0123":
                octal = _OCTAL.match(pattern, i + 1)
                assert octal is not None
                out.append(_literal(chr(int(octal.group(), 8)), bracket, folded))
                i = octal.end()
                continue
            if code in "pPC":
                return Translated("", f"\\{code} is not IEEE 1003.2 syntax ([[:upper:]] is)")
            if bracket:
                if code.isalnum() and code not in _SHARED_IN_BRACKET:
                    return Translated("", f"\\{code} inside a bracket expression is not supported")
                out.append("\\" + code if code.isalnum() else _literal(code))
            elif code in "bB":
                out.append("\\y" if code == "b" else "\\Y")
            elif code == "z":
                out.append("\\Z")
            elif code.isalnum() and code not in _SHARED:
                return Translated("", f"the escape \\{code} is not supported")
            else:
                out.append("\\" + code if code.isalnum() else _literal(code))
            i += 2
            continue
        if bracket:
            if char == "[" and pattern[i + 1 : i + 2] in (":", "=", "."):
                close = pattern.find(pattern[i + 1] + "]", i + 2)
                out.append(pattern[i : close + 2])
                i = close + 2
                continue
            if char == "]":
                bracket = False
            out.append(_literal(char, True, folded) if ord(char) > 127 else char)
            i += 1
            continue
        if char == "[":
            bracket = True
            out.append(char)
            i += 1
            if pattern[i : i + 1] == "^":
                out.append("^")
                i += 1
            if pattern[i : i + 1] == "]":  # a `]` first is a member
                out.append("\\]")
                i += 1
            continue
        if char == "(" and pattern[i + 1 : i + 2] == "?":
            named = _NAMED_GROUP.match(pattern, i)
            if named is not None:
                out.append("(")
                i = named.end()
                continue
            if _FLAGS.match(pattern, i):
                return Translated("", "flags are supported at the start only: (?i)...")
            out.append("(?:" if pattern.startswith("(?:", i) else char)
            i += 3 if pattern.startswith("(?:", i) else 1
            continue
        repeat = _REPEAT.match(pattern, i) if char == "{" else None
        if repeat is not None:
            out.append(repeat.group())
            i = repeat.end()
            continue
        if char in "{}":
            out.append("\\" + char)
        else:
            out.append(_literal(char, False, folded) if ord(char) > 127 else char)
        i += 1
    return Translated("".join(out))


def portability_problem(pattern: str) -> str | None:
    """What in `pattern` (one RE2 accepts) the stores could not match alike, or None."""
    return translate(pattern).problem


def postgres_pattern(pattern: str) -> str:
    """`pattern` in PostgreSQL's syntax (a pattern with a problem matches nothing there)."""
    translated = translate(pattern)
    return "x^" if translated.problem else translated.text  # `^` after a character: never
