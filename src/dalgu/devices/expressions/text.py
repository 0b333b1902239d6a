"""JavaScript's text operations the IoT Agents' transforms use: `replace` with its `$`
patterns, regular expressions, `encodeURI`/`decodeURI`, `toFixed` and `toLocaleString` of
numbers."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any
from urllib.parse import quote

from dalgu.devices.expressions.values import number_text
from dalgu.query.regex import Pattern, compile_pattern, pattern_problem

_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")
_URI_KEPT = ";,/?:@&=+$-_.!~*'()#"
_URI_RESERVED = ";/?:@&=+$,#"
_DIGITS = 1000  # decimal digits enough for any double written with 100 decimals


def regex(pattern: str) -> Pattern:
    """A JavaScript regular expression (`new RegExp(pattern)`) run by RE2, in time linear in
    the text (`dalgu.query.regex`: a device's measure met a `(a+)+$` of its group's expression
    and held the worker, and every device's MQTT messages behind it); ValueError for one that
    is not valid, or that needs what RE2 has not (backreferences, lookaround)."""
    translated = _NAMED_GROUP.sub("(?P<", pattern)
    problem = pattern_problem(translated)
    if problem is not None:
        raise ValueError(f"regular expression {pattern!r}: {problem}")
    return compile_pattern(translated)


def replacement(template: str, match: Any, found: str, text: str, at: int) -> str:
    """A `replace` replacement with its patterns: `$$`, `$&`, `` $` ``, `$'`, `$1`…`$99`,
    `$<name>`."""
    out: list[str] = []
    i = 0
    groups = match.groups() if match is not None else ()
    while i < len(template):
        char = template[i]
        following = template[i + 1 : i + 2]
        if char != "$" or not following:
            out.append(char)
            i += 1
            continue
        if following == "$":
            out.append("$")
        elif following == "&":
            out.append(found)
        elif following == "`":
            out.append(text[:at])
        elif following == "'":
            out.append(text[at + len(found) :])
        elif following.isdigit() and groups:
            two = template[i + 1 : i + 3]
            digits = two if two.isdigit() and 0 < int(two) <= len(groups) else following
            index = int(digits)
            if not 0 < index <= len(groups):
                out.append("$" + following)
                i += 2
                continue
            out.append(groups[index - 1] or "")
            i += 1 + len(digits)
            continue
        elif following == "<" and match is not None and match.re.groupindex:
            end = template.find(">", i)
            if end < 0:
                out.append("$<")
            else:
                name = template[i + 2 : end]
                out.append(match.groupdict().get(name) or "")
                i = end + 1
                continue
        else:
            out.append("$" + following)
        i += 2
    return "".join(out)


def replace_text(text: str, found: str, template: str) -> str:
    """String.prototype.replace with a text pattern: the first occurrence."""
    at = text.find(found)
    if at < 0:
        return text
    return text[:at] + replacement(template, None, found, text, at) + text[at + len(found) :]


def replace_pattern(text: str, pattern: Pattern, template: str, *, every: bool) -> str:
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(text[last : match.start()])
        out.append(replacement(template, match, match.group(0), text, match.start()))
        last = match.end()
        if not every:
            break
    out.append(text[last:])
    return "".join(out)


def encode_uri(text: str) -> str:
    return quote(text, safe=_URI_KEPT)


def decode_uri(text: str) -> str:
    """decodeURI: escapes of reserved characters stay as they are; a malformed escape or
    UTF-8 sequence raises ValueError (JavaScript's URIError)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "%":
            out.append(text[i])
            i += 1
            continue
        first = _byte(text, i)
        size = 1 if first < 0x80 else 2 if first >> 5 == 6 else 3 if first >> 4 == 14 else 4
        if size == 4 and first >> 3 != 30:
            raise ValueError("URI malformed")
        raw = bytes(_byte(text, i + 3 * k) for k in range(size))
        char = raw.decode("utf-8")  # raises UnicodeDecodeError, a ValueError
        out.append(text[i : i + 3 * size] if char in _URI_RESERVED else char)
        i += 3 * size
    return "".join(out)


def _byte(text: str, at: int) -> int:
    digits = text[at + 1 : at + 3]
    if text[at : at + 1] != "%" or not re.fullmatch("[0-9a-fA-F]{2}", digits):
        raise ValueError("URI malformed")
    return int(digits, 16)


def fixed(value: float, decimals: int) -> str:
    """Number.prototype.toFixed: the exact binary value rounded half up, at most 100
    decimals (RangeError, a ValueError, past that)."""
    if not 0 <= decimals <= 100:
        raise ValueError("toFixed() digits argument must be between 0 and 100")
    if value != value:
        return "NaN"
    if abs(value) >= 1e21 or value in (float("inf"), float("-inf")):
        return number_text(value)
    with localcontext(prec=_DIGITS):
        exact = Decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = format(exact, "f")
    return text.lstrip("-") if value == 0 else text  # (-0).toFixed(2) is "0.00"


# group separator, decimal separator and the fewest digits a group needs before the
# integer part is grouped at all (Spanish and Polish write 1234, but 12.345)
_NUMBER_FORMS: dict[str, tuple[str, str, int]] = {
    "en": (",", ".", 1),
    "es": (".", ",", 2),
    "de": (".", ",", 1),
    "it": (".", ",", 1),
    "pt": (".", ",", 1),
    "pt-PT": ("\u00a0", ",", 2),
    "nl": (".", ",", 1),
    "fr": ("\u202f", ",", 1),
    "ru": ("\u00a0", ",", 1),
    "pl": ("\u00a0", ",", 2),
    "de-CH": ("’", ".", 1),
    "ja": (",", ".", 1),
    "zh": (",", ".", 1),
    "ko": (",", ".", 1),
}


def locale_number(value: float, locale: Any, options: Any) -> str:
    """Number.prototype.toLocaleString for the common locales: grouping, decimal separator,
    `minimumFractionDigits`, `maximumFractionDigits` (default 0 and 3) and `useGrouping`.
    Unknown locales are written as English; other options are not read."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return ("-" if value < 0 else "") + "∞"
    opts = options if isinstance(options, dict) else {}
    low = int(opts.get("minimumFractionDigits", 0))
    high = int(opts.get("maximumFractionDigits", max(low, 3)))
    if not 0 <= low <= high <= 100:
        raise ValueError("maximumFractionDigits value is out of range")
    tag = locale if isinstance(locale, str) else "en"
    group, point, least = (
        _NUMBER_FORMS.get(tag) or _NUMBER_FORMS.get(tag.split("-")[0]) or _NUMBER_FORMS["en"]
    )
    with localcontext(prec=_DIGITS):
        step = Decimal(1).scaleb(-high)
        rounded = Decimal(repr(float(value))).quantize(step, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    whole, _, fraction = format(abs(rounded), "f").partition(".")
    fraction = fraction.rstrip("0").ljust(low, "0")
    if opts.get("useGrouping", True) is not False and len(whole) >= 4 + (least - 1):
        head = len(whole) % 3 or 3
        whole = whole[:head] + "".join(group + whole[k : k + 3] for k in range(head, len(whole), 3))
    return sign + whole + (point + fraction if fraction else "")
