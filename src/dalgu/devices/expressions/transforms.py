"""The JEXL transforms of the FIWARE IoT Agents (iotagent-node-lib's `jexlTranformsMap.js`).

Each takes the piped value and the call's arguments (undefined when not given) and does what
the agents' JavaScript does, including what it does wrong: `substr`, `indexOf` and `length`
work on any value's text; the transforms the agents wrap (`jsonparse`, `tostring`,
`parseint`, the date ones, …) give null where JavaScript throws; the others (`split` of a
number, `lengtharray` of undefined) fail the expression. Text is counted in characters
(JavaScript counts UTF-16 units: the two differ only past U+FFFF, e.g. for emoji).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Any

import orjson

from dalgu.devices.expressions import dates, text
from dalgu.devices.expressions.values import (
    JS_SPACE,
    UNDEFINED,
    add,
    compare,
    from_json,
    is_nan,
    join,
    member,
    number,
    number_text,
    own_keys,
    same_value_zero,
    strict_equals,
    to_int32,
    to_integer,
    to_json,
    to_number,
    to_string,
    type_name,
)

U = UNDEFINED
_INT_PREFIX = re.compile(r"[+-]?[0-9]+")
_FLOAT_PREFIX = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_HEX_PREFIX = re.compile(r"([+-]?)0[xX]([0-9a-fA-F]+)")


def _need(value: Any, *kinds: type) -> Any:
    """The value when JavaScript has the method on it, else TypeError (as it throws)."""
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise TypeError(f"{to_string(value)} has no such method")
    return value


def _safe(function: Callable[..., Any]) -> Callable[..., Any]:
    """The agents' `safeOperation`: null where the JavaScript would throw."""

    def safe(*args: Any) -> Any:
        try:
            return function(*args)
        except (TypeError, ValueError, ArithmeticError, LookupError, AttributeError, re.error):
            return None

    return safe


def _nullish(value: Any) -> bool:
    return value is None or value is U


def parse_int(value: Any) -> Any:
    """parseInt(value, 10), null when it is NaN."""
    match = _INT_PREFIX.match(to_string(value).lstrip(JS_SPACE))
    return number(float(match.group(0))) if match else None  # past 1e308: Infinity


def parse_int_any(value: Any) -> Any:
    """parseInt(value) without a radix: a `0x` prefix reads hexadecimal digits."""
    text = to_string(value).lstrip(JS_SPACE)
    match = _HEX_PREFIX.match(text)
    if match is None:
        return parse_int(text)
    sign = -1 if match.group(1) == "-" else 1
    whole = int(match.group(2), 16)
    return number(sign * (float(whole) if whole.bit_length() <= 1024 else math.inf))


def parse_float(value: Any) -> Any:
    match = _FLOAT_PREFIX.match(to_string(value).lstrip(JS_SPACE))
    if not match:
        return None
    return number(float(match.group(0).replace("Infinity", "inf")))


def _json_text(value: Any) -> str:
    """JSON.stringify of a JSON tree (no undefined left in it)."""
    if isinstance(value, dict):
        members = (f"{_json_text(k)}:{_json_text(value[k])}" for k in own_keys(value))
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number_text(value)
    return orjson.dumps(value).decode()


def json_stringify(value: Any) -> Any:
    tree = to_json(value)
    return U if tree is U else _json_text(tree)


def substr(value: Any, start: Any = U, length: Any = U) -> str:
    whole = to_string(value)
    size = len(whole)
    begin = to_integer(start)
    begin = max(size + begin, 0) if begin < 0 else min(begin, size)
    count = size - begin if length is U else min(max(to_integer(length), 0), size - begin)
    return whole[int(begin) : int(begin + count)] if count > 0 else ""


def slice_(value: Any, start: Any = U, end: Any = U) -> Any:
    items = _need(value, list, str)
    size = len(items)

    def at(position: Any, default: int) -> int:
        if position is U:
            return default
        n = to_integer(position)
        return int(max(size + n, 0) if n < 0 else min(n, size))

    return items[at(start, 0) : at(end, size)]


def _iterable(value: Any) -> list[Any]:
    """What `new Set(value)` iterates: an array's items, a text's characters, nothing."""
    if _nullish(value):
        return []
    return list(_need(value, list, str))


def _distinct(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not any(same_value_zero(item, kept) for kept in out):
            out.append(item)
    return out


def add_set(value: Any, item: Any = U) -> list[Any]:
    return _distinct([*_iterable(value), item])


def remove_set(value: Any, item: Any = U) -> list[Any]:
    return [kept for kept in _distinct(_iterable(value)) if not same_value_zero(kept, item)]


def mapper(value: Any, values: Any = U, choices: Any = U) -> Any:
    keys = _need(values, list)
    index = next((i for i, key in enumerate(keys) if strict_equals(key, value)), -1)
    return member(choices, index)


def thmapper(value: Any, values: Any = U, choices: Any = U) -> Any:
    thresholds = _need(values, list)
    index = next((i for i, top in enumerate(thresholds) if compare(value, top, "<=")), None)
    return member(choices, index)


def bitwise_mask(value: Any, mask: Any = U, op: Any = U, shift: Any = U) -> int:
    if op in ("&", "|", "^"):
        parsed = parse_int_any(value)
        left, right = to_int32(math.nan if parsed is None else parsed), to_int32(mask)
        masked = left & right if op == "&" else left | right if op == "|" else left ^ right
    else:
        masked = to_int32(value)
    return to_int32(masked) >> (to_int32(shift) & 31)


def _date(convert: Callable[[float], Any]) -> Callable[..., Any]:
    def transform(value: Any, *_: Any) -> Any:
        ms = dates.milliseconds(value)
        return None if ms is None else convert(ms)

    return transform


def _locale_date(value: Any, locale: Any = U, options: Any = U) -> Any:
    ms = dates.milliseconds(value)
    return "Invalid Date" if ms is None else dates.locale_text(ms, locale, options)


def _locale_number(value: Any, locale: Any = U, options: Any = U) -> Any:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or is_nan(value):
        return None
    return text.locale_number(value, locale, options)


def to_fixed(value: Any, decimals: Any = U) -> Any:
    num, dec = parse_float(value), parse_int(decimals)
    if num is None or dec is None:
        return None
    return text.fixed(float(num), int(dec))


def hex_to_string(value: Any) -> Any:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        return None
    return bytes.fromhex(value).decode("utf-8", errors="replace").removeprefix("\ufeff")


def _hash(value: Any) -> str:
    """The agents' 32-bit string hash, as 8 upper-case hex digits."""
    h = 0
    data = to_string(value).encode("utf-16-le", errors="surrogatepass")
    for k in range(0, len(data), 2):
        code = data[k] | data[k + 1] << 8
        h = to_int32(to_int32(to_int32(h) << 5) - h + code)
    return format(abs(h), "X").rjust(8, "0")


def _entries(value: Any) -> list[tuple[str, Any]]:
    if _nullish(value):
        raise TypeError("cannot convert undefined or null to object")
    if isinstance(value, dict):
        return [(k, value[k]) for k in own_keys(value)]
    if isinstance(value, (list, str)):
        return [(str(i), v) for i, v in enumerate(value)]
    return []


def _includes(pick: Any, item: Any) -> bool:
    if isinstance(pick, str):
        return to_string(item) in pick
    return any(same_value_zero(item, p) for p in _need(pick, list))


def _round(value: Any) -> int | float:
    n = float(to_number(value))
    if not math.isfinite(n):
        return n
    down = math.floor(n)
    return number(float(down + 1 if n - down >= 0.5 else down))


def _math(function: Callable[[float], float]) -> Callable[..., Any]:
    def transform(value: Any, *_: Any) -> Any:
        n = float(to_number(value))
        return number(float(function(n))) if math.isfinite(n) else n

    return transform


def _reduce_sum(items: Any) -> Any:
    values = _need(items, list)
    if not values:
        raise TypeError("reduce of empty array with no initial value")
    total = values[0]
    for item in values[1:]:
        total = add(total, item)
    return total


def _length_of(value: Any) -> Any:
    if _nullish(value):
        raise TypeError("cannot read length of undefined")
    return member(value, "length")


def _split(value: Any, separator: Any = U) -> list[str]:
    whole = _need(value, str)
    if separator is U:
        return [whole]
    sep = to_string(separator)
    return list(whole) if sep == "" else whole.split(sep)


def _concat(value: Any, other: Any = U) -> Any:
    if isinstance(value, str):
        return value + to_string(other)
    return [*_need(value, list), *(other if isinstance(other, list) else [other])]


def _join(value: Any, separator: Any = U) -> str:
    return join(_need(value, list), "," if separator is U else to_string(separator))


def _to_string(value: Any) -> Any:
    if _nullish(value):
        raise TypeError("cannot call toString of null or undefined")
    return to_string(value)


def _replace_text(value: Any, found: Any = U, to: Any = U) -> str:
    return text.replace_text(_need(value, str), to_string(found), to_string(to))


def _replace_regex(every: bool) -> Callable[..., Any]:
    def transform(value: Any, pattern: Any = U, to: Any = U) -> Any:
        compiled = text.regex(to_string(pattern))
        return text.replace_pattern(_need(value, str), compiled, to_string(to), every=every)

    return _safe(transform)


def _json_parse(value: Any) -> Any:
    return from_json(orjson.loads(to_string(value)))


def _decode_uri(value: Any) -> Any:
    return text.decode_uri(to_string(value))


TRANSFORMS: dict[str, Callable[..., Any]] = {
    "jsonparse": _safe(_json_parse),
    "jsonstringify": _safe(json_stringify),
    "indexOf": lambda value, char=U, *_: to_string(value).find(to_string(char)),
    "length": lambda value, *_: len(to_string(value)),
    "trim": lambda value, *_: to_string(value).strip(JS_SPACE),
    "substr": substr,
    "addreduce": _safe(_reduce_sum),
    "lengtharray": _length_of,
    "typeof": lambda value, *_: type_name(value),
    "isarray": lambda value, *_: isinstance(value, list),
    "isnan": lambda value, *_: is_nan(value),
    "parseint": lambda value, *_: parse_int(value),
    "parsefloat": lambda value, *_: parse_float(value),
    "toisodate": _date(dates.iso_text),
    "timeoffset": _date(lambda ms: 0),  # minutes from UTC of the agent's clock: UTC
    "tostring": _safe(_to_string),
    "urlencode": lambda value, *_: text.encode_uri(to_string(value)),
    "urldecode": _safe(_decode_uri),
    "replacestr": _replace_text,
    "replaceregexp": _replace_regex(every=False),
    "replaceallregexp": _replace_regex(every=True),
    "split": _split,
    "joinarrtostr": _join,
    "concatarr": _concat,
    "mapper": mapper,
    "thmapper": thmapper,
    "bitwisemask": bitwise_mask,
    "slice": slice_,
    "addset": add_set,
    "removeset": remove_set,
    "touppercase": lambda value, *_: to_string(value).upper(),
    "tolowercase": lambda value, *_: to_string(value).lower(),
    "floor": _math(math.floor),
    "ceil": _math(math.ceil),
    "round": _round,
    "tofixed": to_fixed,
    "gettime": _date(lambda ms: number(ms)),
    "toisostring": _date(dates.iso_text),
    "localestring": _safe(_locale_date),
    "localestringnumber": _safe(_locale_number),
    "now": lambda *_: int(time.time() * 1000),
    "hextostring": _safe(hex_to_string),
    "valuePicker": lambda value, pick=U, *_: [
        k for k, v in _entries(value) if strict_equals(v, pick)
    ],
    "valuePickerMulti": lambda value, pick=U, *_: [
        k for k, v in _entries(value) if _includes(pick, v)
    ],
    "hash": _safe(_hash),
}
