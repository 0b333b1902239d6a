"""JavaScript values and coercions, as JEXL (a JavaScript library) computes with them.

A JEXL value is one of JavaScript's: `undefined` (`UNDEFINED`), `null` (None), a boolean, a
number (an int when it is whole and exact, else a float: JavaScript has one number type,
and `30` must stay `30`, not `30.0`, when it reaches an entity), a string, an array (list) or
an object (dict). The functions here are the language's abstract operations (ToNumber,
ToString, ToBoolean, `+`, `==`, `<`) that the operators and transforms use.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any, Final


class Undefined:
    """JavaScript's `undefined`: a missing identifier or member, a transform with no result."""

    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = Undefined()
EXACT = 2**53  # the integers a JavaScript number holds exactly
NAN = math.nan
_NUMERIC_TEXT = re.compile(
    r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+"
)
JS_SPACE = " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"  # noqa: E501


def number(value: float) -> int | float:
    """A computed number as JEXL gives it: whole and exact numbers as ints."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= EXACT:
        return 0 if value == 0 else int(value)
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def truthy(value: Any) -> bool:
    """ToBoolean: false, 0, NaN, '', null and undefined are false; [] and {} are true."""
    if value is None or value is UNDEFINED or value is False:
        return False
    if isinstance(value, str):
        return value != ""
    if isinstance(value, (int, float)):
        return value != 0 and not math.isnan(value)
    return True


def to_number(value: Any) -> int | float:
    """ToNumber: '' and null are 0, undefined and unparseable text are NaN."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if value is None:
        return 0
    if isinstance(value, str):
        text = value.strip(JS_SPACE)
        if not text:
            return 0
        if not _NUMERIC_TEXT.fullmatch(text):
            return NAN
        if text[:2].lower() in ("0x", "0o", "0b"):
            return int(text, 0)
        return number(float(text.replace("Infinity", "inf")))
    if isinstance(value, list):
        return to_number(to_string(value))
    return NAN  # undefined, objects


def to_integer(value: Any) -> int | float:
    """ToIntegerOrInfinity: NaN is 0, fractions are cut towards zero."""
    n = to_number(value)
    if isinstance(n, float):
        if math.isnan(n):
            return 0
        if math.isinf(n):
            return n
        return int(n)
    return n


def to_int32(value: Any) -> int:
    n = to_number(value)
    if isinstance(n, float) and not math.isfinite(n):
        return 0
    whole = int(n) & 0xFFFFFFFF
    return whole - 2**32 if whole >= 2**31 else whole


def number_text(value: int | float) -> str:
    """Number::toString: `30`, `1.5`, `1e+21`, `1e-7`, `NaN`, `Infinity`."""
    if isinstance(value, int):
        if abs(value) < 10**21:
            return str(value)
        value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    assert isinstance(exponent, int)
    k = len(digits)
    n = exponent + k
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"


def to_string(value: Any) -> str:
    """ToString: `undefined`, `null`, `true`, numbers as JavaScript writes them, arrays
    joined with commas, objects as `[object Object]`."""
    if isinstance(value, str):
        return value
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, list):
        return join(value, ",")
    return "[object Object]"


def join(items: list[Any], separator: str) -> str:
    """Array.prototype.join: null and undefined items are empty."""
    return separator.join("" if i is None or i is UNDEFINED else to_string(i) for i in items)


def _primitive(value: Any) -> Any:
    """ToPrimitive (default hint): arrays and objects become their text."""
    return to_string(value) if isinstance(value, (list, dict)) else value


def add(left: Any, right: Any) -> Any:
    """`+`: text if either side is text (after ToPrimitive), else numbers."""
    left, right = _primitive(left), _primitive(right)
    if isinstance(left, str) or isinstance(right, str):
        return to_string(left) + to_string(right)
    return number(float(to_number(left)) + to_number(right))


def strict_equals(left: Any, right: Any) -> bool:
    """`===` (and `Array.prototype.indexOf`): same type and value, objects by identity."""
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, (list, dict)) or isinstance(right, (list, dict)):
        return left is right
    if type(left) is not type(right):
        return False
    return bool(left == right)


def same_value_zero(left: Any, right: Any) -> bool:
    """SameValueZero (`Set`, `includes`): `===` except that NaN is NaN."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    return strict_equals(left, right)


def loose_equals(left: Any, right: Any) -> bool:
    """`==`: null equals undefined only; numbers, text and booleans compare as numbers."""
    nullish = (None, UNDEFINED)
    if left in nullish or right in nullish:
        return left in nullish and right in nullish
    if isinstance(left, (list, dict)) and isinstance(right, (list, dict)):
        return left is right
    left, right = _primitive(left), _primitive(right)
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    return bool(to_number(left) == to_number(right))


def compare(left: Any, right: Any, operator: str) -> bool:
    """`<`, `<=`, `>`, `>=`: text with text by code units, anything else as numbers (NaN
    compares false)."""
    left, right = _primitive(left), _primitive(right)
    if isinstance(left, str) and isinstance(right, str):
        a: Any = left.encode("utf-16-be")
        b: Any = right.encode("utf-16-be")
    else:
        a, b = to_number(left), to_number(right)
        if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
            return False
    if operator == "<":
        return bool(a < b)
    if operator == "<=":
        return bool(a <= b)
    if operator == ">":
        return bool(a > b)
    return bool(a >= b)


def type_name(value: Any) -> str:
    """`typeof`."""
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def is_nan(value: Any) -> bool:
    n = to_number(value)
    return isinstance(n, float) and math.isnan(n)


def member(subject: Any, key: Any) -> Any:
    """`subject[key]` on a JSON value: array items by index, a text's characters, an
    object's members by the key's text, `length` of arrays and text; else undefined. Raises
    TypeError on null and undefined, as JavaScript does."""
    if subject is None or subject is UNDEFINED:
        raise TypeError(f"cannot read {to_string(key)!r} of {to_string(subject)}")
    name = key if isinstance(key, str) else to_string(key)
    if isinstance(subject, dict):
        return subject.get(name, UNDEFINED)
    if isinstance(subject, (list, str)):
        if name == "length":
            return len(subject)
        if name.isascii() and name.isdigit() and (name == "0" or not name.startswith("0")):
            index = int(name)
            return subject[index] if index < len(subject) else UNDEFINED
    return UNDEFINED


def own_keys(value: dict[str, Any]) -> list[str]:
    """An object's keys in JavaScript's order: integer-like keys ascending, then the others
    as they were added (what JSON.stringify and Object.entries follow)."""
    indices = [k for k in value if k.isascii() and k.isdigit() and (k == "0" or k[0] != "0")]
    indices = [k for k in indices if int(k) < 2**32 - 1]
    if not indices:
        return list(value)
    chosen = set(indices)
    return sorted(indices, key=int) + [k for k in value if k not in chosen]


def from_json(value: Any) -> Any:
    """A JSON value (a measure, a static attribute) as JEXL sees it: whole floats as ints."""
    if isinstance(value, float):
        return number(value)
    if isinstance(value, list):
        return [from_json(v) for v in value]
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    return value


def to_json(value: Any) -> Any:
    """JSON.stringify's view of a value as a JSON tree: undefined members are left out,
    undefined items and non-finite numbers are null; UNDEFINED itself when nothing is left."""
    if value is UNDEFINED:
        return UNDEFINED
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [None if (v := to_json(item)) is UNDEFINED else v for item in value]
    if isinstance(value, dict):
        return {k: v for k, item in value.items() if (v := to_json(item)) is not UNDEFINED}
    return value
