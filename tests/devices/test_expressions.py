"""The JEXL language as the FIWARE IoT Agents evaluate it: the values below are those that
iotagent-node-lib's tests (test/unit/expressions/jexlExpression-test.js, the functional
test cases) and doc/api.md expect, and Jexl's own JavaScript semantics."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from typing import Any

import pytest

from dalgu.devices.expressions import UNDEFINED, EvaluationError, evaluate, parse_expression
from dalgu.errors import BadRequestData

SCOPE: dict[str, Any] = {
    "value": 6,
    "other": 3,
    "theString": "12.6,   -19.4",
    "spaces": "5 a b c d 5",
    "big": 2000,
    "number": 145,
    "number2": 155,
    "number3inside": 200,
    "floatNumber": 1.2,
    "array": [1, 2],
    "object": {"name": "John", "surname": "Doe"},
    "invalidJson": '{"name": "John", surname": "Doe"}',
    "invalidDate": "invalid-date",
    "emptyArray": [],
    "invalidHex": "zz",
    "nonNumeric": "not-a-number",
    "name": "DevId629",
    "ts": 1637245214901,
}


def run(expression: str, scope: dict[str, Any] | None = None) -> Any:
    return evaluate(parse_expression(expression), SCOPE if scope is None else scope)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # jexlExpression-test.js
        ("5 * value", 30),
        ("(6 + value) * 3", 36),
        ("value / 12 + 1", 1.5),
        ("(5 + 2) * (value + 7)", 91),
        ("(5 - other) * (value + 7)", 26),
        ('"Pruebas" + "DeStrings"', "PruebasDeStrings"),
        ('theString|substr(theString|indexOf(",") + 1, theString|length)|trim', "-19.4"),
        ("number + number2 + number3inside", 500),
        ("floatNumber * 2", 2.4),
        ('floatNumber +"echo"', "1.2echo"),
        ("((number) * (number2))", 22475),
        ("spaces|trim", "5 a b c d 5"),
        ('"Pruebas " + "De Strings"', "Pruebas De Strings"),
        ("'Pruebas ' + 'De Strings'", "Pruebas De Strings"),
        ('"number " + 5', "number 5"),
        ('(24 * big)|indexOf("80")', 1),
        ('"AABBCC"|slice(2,4)', "BB"),
        ("value == 6? true : false", True),
        ('value == 6 && spaces|indexOf("a")>0', True),
        ("array|concatarr(array)", [1, 2, 1, 2]),
        ('array|joinarrtostr("_")', "1_2"),
        ("array[1]+1", 3),
        ("object.name", "John"),
        ('"{\\"name\\":\\"John\\",\\"surname\\":\\"Doe\\"}"|jsonparse', SCOPE["object"]),
        ('{name: "John",surname: "Doe"}|jsonstringify', '{"name":"John","surname":"Doe"}'),
        ('{type:"Point",coordinates: [value,other]}', {"type": "Point", "coordinates": [6, 3]}),
        ('"test"|hash', "00364492"),
        ('""|hash', "00000000"),
        # doc/api.md, "Examples of JEXL expressions"
        ('name + "value is " +value', "DevId629value is 6"),
        ("ts|toisodate", "2021-11-18T14:20:14.901Z"),
        ('" a "| trim', "a"),
        ("name|length", 8),
        ('name|indexOf("e")', 1),
        ('name|substr(0,name|indexOf("e")+1)', "De"),
        ('"hello world" | trim | replacestr("hello","hi")', "hi world"),
        ('"40.4165, -3.70256" | split(", ")[1] | parsefloat()', -3.70256),
    ],
)
def test_the_agents_expressions_give_the_agents_values(expression: str, expected: Any) -> None:
    result = run(expression)
    if isinstance(expected, float):
        assert result == pytest.approx(expected)
    else:
        assert result == expected and type(result) is type(expected)


def test_an_ngsi_operator_object_is_built() -> None:
    assert run("{$inc:ina-outa}", {"ina": 34, "outa": 4}) == {"$inc": 30}


def test_arithmetic_on_whole_numbers_stays_whole() -> None:
    assert run("5 * value") == 30 and isinstance(run("5 * value"), int)
    assert run("3 * 5.2") == pytest.approx(15.6)
    assert run("value / 4") == 1.5
    assert run("value / 3") == 2 and isinstance(run("value / 3"), int)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 4", 3),
        ("-7 % 3", -1),
        ("2 ^ 10", 1024),
        ("2 ^ 3 ^ 2", 64),  # Jexl's ^ is left-associative
        ("1 + 2 * 3", 7),
        ("2 * 3 % 4", 6),  # % binds tighter than * in Jexl: 2 * (3 % 4)
        ("10 - 2 - 3", 5),
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 4", False),
        ("4 >= 4", True),
        ("1 == 1", True),
        ("1 != 1", False),
        ('"a" in "cat"', True),
        ("2 in [1, 2]", True),
        ('"2" in [1, 2]', False),
        ("3 in {a: 3}", False),
        ("true && 5", 5),
        ("0 && 5", 0),
        ('"" || "x"', "x"),
        ("2 || 3", 2),
        ("!0", True),
        ("!!'x'", True),
        ("-value", -6),
        ("- -2", 2),
        ("-1.5|round", -1),  # Jexl reads -1.5 as one number, then rounds it
        ("1 ? 2 : 3", 2),
        ("0 ? 2 : 3", 3),
        ('"" ?: "fallback"', "fallback"),
        ('"kept" ?: "fallback"', "kept"),
        ("0 ? 1 : 2 ? 3 : 4", 3),
        ("1 + 1 ? 'yes' : 'no'", "yes"),
        ("[1, 2, 3,]", [1, 2, 3]),
        ("{a: 1, 'b c': 2,}", {"a": 1, "b c": 2}),
        ("[{x: 1}, {x: 2}, {x: 1}][.x == 1]", [{"x": 1}, {"x": 1}]),
        ("[{x: 1}, {x: 2}][.x == 2][0].x", 2),
        ("object['name']", "John"),
        ("object[true]", SCOPE["object"]),
        ("array.length", UNDEFINED),  # Jexl: `.` on an array reads its first item
        ("[{a: 5}].a", 5),
        ('"abc".length', 3),
        ("'it\\'s'", "it's"),
        ('"back\\\\slash"', "back\\slash"),
        ("nothing", UNDEFINED),
        ("nothing.deeper", UNDEFINED),
        ("null", UNDEFINED),  # an identifier in Jexl 2.3, as undefined is
    ],
)
def test_operators_follow_jexl(expression: str, expected: Any) -> None:
    assert run(expression) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('"a" + 1', "a1"),
        ("1 + '1'", "11"),
        ("'3' * '4'", 12),
        ("'3' - 1", 2),
        ("true + 1", 2),
        ("true + 3", 4),
        ("false + 3", 3),
        ("'abcd' + 3", "abcd3"),
        ("nothing + 'x'", "undefinedx"),
        ("[1, 2] + 'x'", "1,2x"),
        ("{a: 1} + ''", "[object Object]"),
        ("[] + 1", "1"),
        ("1.5 + 'x'", "1.5x"),
        ("0.1 + 0.2", 0.30000000000000004),
        ("100000000000000000000 * 10 + ''", "1e+21"),
        ("0.0000001 + ''", "1e-7"),
        ("1 == '1'", True),
        ("0 == ''", True),
        ("0 == false", True),
        ("[1] == 1", True),
        ("nothing == null", True),  # undefined == undefined
        ("'10' < '9'", True),  # text compares as text
        ("'10' < 9", False),  # else as numbers
        ("'a' < 1", False),
        ("'' ? 1 : 2", 2),
        ("[] ? 1 : 2", 1),
        ("{} ? 1 : 2", 1),
    ],
)
def test_values_are_coerced_as_javascript_does(expression: str, expected: Any) -> None:
    assert run(expression) == expected


@pytest.mark.parametrize(
    ("expression", "check"),
    [
        ("nothing + 3", math.isnan),
        ("'x' * 2", math.isnan),
        ("0 / 0", math.isnan),
        ("1 / 0", lambda v: v == math.inf),
        ("-1 / 0", lambda v: v == -math.inf),
        ("5 % 0", math.isnan),
        ("1 ^ nothing", math.isnan),  # Math.pow(1, NaN), where Python's pow gives 1
        ("2 ^ 2000", lambda v: v == math.inf),
    ],
)
def test_impossible_arithmetic_is_nan_or_infinity(expression: str, check: Any) -> None:
    assert check(run(expression))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # jexlExpression-test.js, "When invalid inputs are used": null, not an error
        ("invalidJson|jsonparse", None),
        ("invalidDate|toisodate", None),
        ("invalidDate|timeoffset", None),
        ("emptyArray|addreduce", None),
        ("nonNumeric|parseint", None),
        ("nonNumeric|parsefloat", None),
        ("invalidHex|hextostring", None),
        ('theString|replaceregexp("[a-z", "replacement")', None),
        ('theString|replaceallregexp("[a-z", "replacement")', None),
        ("null|tostring", None),
        ("undefined|tostring", None),
        ('"%%%invalidURI"|urldecode', None),
        ('"notANumber"|tofixed(2)', None),
        ('"123.456"|tofixed("invalid")', None),
        ('"invalidDate"|gettime', None),
        ("null|gettime", None),
        ("object['nothing']", UNDEFINED),
        ("object['nothing']?object['nothing']:null", UNDEFINED),
    ],
)
def test_transforms_given_what_they_cannot_take_give_null(expression: str, expected: Any) -> None:
    assert run(expression) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'a,b,c'|split(',')", ["a", "b", "c"]),
        ("'abc'|split('')", ["a", "b", "c"]),
        ("[1, 2, 3]|addreduce", 6),
        ("['a', 'b']|addreduce", "ab"),
        ("[1, 2]|lengtharray", 2),
        ("'abc'|substr(1)", "bc"),
        ("'abcdef'|substr(-2)", "ef"),
        ("'abcdef'|substr(1, 2)", "bc"),
        ("nothing|substr(0, 3)", "und"),  # the functional test 0130 E
        ("12345|length", 5),
        ("'hello'|indexOf('z')", -1),
        ("value|typeof", "number"),
        ("nothing|typeof", "undefined"),
        ("array|typeof", "object"),
        ("array|isarray", True),
        ("'12px'|isnan", True),
        ("'12'|isnan", False),
        ("'42.9 cm'|parseint", 42),
        ("'  -3.5e2x'|parsefloat", -350),
        ("' 0x1F'|parseint", 0),
        ("1637245214901|toisostring", "2021-11-18T14:20:14.901Z"),
        ("'2021-11-18T14:20:14.901Z'|gettime", 1637245214901),
        ("'2021-11-18T15:20:14+01:00'|toisodate", "2021-11-18T14:20:14.000Z"),
        ("'2021-11-18'|gettime", 1637193600000),
        ("'Thu, 18 Nov 2021 14:20:14 GMT'|gettime", 1637245214000),
        ("0|timeoffset", 0),
        ("5|tostring", "5"),
        ("array|tostring", "1,2"),
        ("'a b/c?d=é'|urlencode", "a%20b/c?d=%C3%A9"),
        ("'a%20b%2Fc%C3%A9'|urldecode", "a b%2Fcé"),
        ("'2021-11-18'|replacestr('-', '/')", "2021/11-18"),
        ("'x-y'|replacestr('-', '[$&]')", "x[-]y"),
        ("'a1b22'|replaceregexp('[0-9]+', '#')", "a#b22"),
        ("'a1b22'|replaceallregexp('[0-9]+', '#')", "a#b#"),
        ("'2021-11'|replaceregexp('(\\d+)-(\\d+)', '$2/$1')", "11/2021"),
        ("[1, 2]|concatarr(3)", [1, 2, 3]),
        ("'ab'|concatarr('c')", "abc"),
        ("'b'|mapper(['a', 'b'], ['A', 'B'])", "B"),
        ("'z'|mapper(['a', 'b'], ['A', 'B'])", UNDEFINED),
        ("15|thmapper([10, 20, 30], ['low', 'mid', 'high'])", "mid"),
        ("35|thmapper([10, 20, 30], ['low', 'mid', 'high'])", UNDEFINED),
        ("'255'|bitwisemask(15, '&', 0)", 15),
        ("'240'|bitwisemask(0, '|', 4)", 15),
        ("12|bitwisemask(0, 'x', 2)", 3),
        ("'0x1F'|bitwisemask(3, '&', 0)", 3),  # parseInt without a radix reads 0x
        ("{b: 1, '2': 2, '1': 3}|jsonstringify", '{"1":3,"2":2,"b":1}'),  # JavaScript's order
        ("{b: 1, '1': 1}|valuePicker(1)", ["1", "b"]),
        ("[1, 2, 3, 4]|slice(1, -1)", [2, 3]),
        ("[1, 2]|addset(2)", [1, 2]),
        ("[1, 2]|addset(3)", [1, 2, 3]),
        ("[1, 2, 2]|removeset(2)", [1]),
        ("nothing|addset(1)", [1]),
        ("'Abc'|touppercase", "ABC"),
        ("'Abc'|tolowercase", "abc"),
        ("1.5|floor", 1),
        ("1.2|ceil", 2),
        ("2.5|round", 3),
        ("-2.5|round", -2),
        ("'3.14159'|tofixed(2)", "3.14"),
        ("1.005|tofixed(2)", "1.00"),  # the binary value of 1.005 is below 1.005
        ("2.5|tofixed(0)", "3"),
        ("'48656c6c6f'|hextostring", "Hello"),
        ("{a: 1, b: 2, c: 1}|valuePicker(1)", ["a", "c"]),
        ("{a: 1, b: 2, c: 3}|valuePickerMulti([1, 3])", ["a", "c"]),
        ("[true, 1]|jsonstringify", "[true,1]"),
        ("'[1, 2.5, null]'|jsonparse", [1, 2.5, None]),
        ("nothing|jsonstringify", UNDEFINED),
    ],
)
def test_transforms_do_what_the_agents_javascript_does(expression: str, expected: Any) -> None:
    assert run(expression) == expected


def test_now_is_epoch_milliseconds() -> None:
    import time

    assert abs(run("0|now") - time.time() * 1000) < 5000


def test_number_and_date_localisation() -> None:
    scope = {
        "theNumber": 1234567.89,
        "locale": "es-ES",
        "options": {"minimumFractionDigits": 2, "maximumFractionDigits": 2},
    }
    assert run("theNumber|localestringnumber(locale, options)", scope) == "1.234.567,89"
    assert run("1234.5|localestringnumber('en-US')", {}) == "1,234.5"
    assert run("'x'|localestringnumber('en-US')", {}) is None
    ms = {"ts": 1637245214901}
    assert run("ts|localestring('en-US')", ms) == "11/18/2021, 2:20:14 PM"
    assert (
        run("ts|localestring('es-ES', {timeZone: 'Europe/Madrid'})", ms) == "18/11/2021, 15:20:14"
    )


@pytest.mark.parametrize(
    "expression",
    [
        "nothing[0]",  # reading a member of undefined throws in JavaScript
        "value|split(',')",  # numbers have no split
        "nothing|lengtharray",
        "value|replacestr('a', 'b')",
        "value|joinarrtostr(',')",
        "1|tofixed(101)",
    ],
)
def test_what_javascript_throws_on_is_an_evaluation_error(expression: str) -> None:
    with pytest.raises(EvaluationError):
        run(expression)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ('"numb+sd ññ ((', "unexpected '\"' at position 0"),  # the agents' INVALID_EXPRESSION
        ("a +", "unexpected end of input at position 3"),
        ("(a", "unexpected end of input at position 2"),
        ("a ? b", "unexpected end of input at position 5; expected"),
        ("a b", "unexpected 'b' at position 2"),
        ("1.", "unexpected end of input at position 2"),
        ("a == = b", "unexpected '=' at position 5"),
        ("a # b", "unexpected '#' at position 2"),
        ("{1: 2}", "unexpected '1' at position 1"),
        ("a|nosuch", "unknown transform 'nosuch' at position 2"),
        ("round(a)", "'round' at position 0 is a function call"),
        ("   ", "an empty expression"),
    ],
)
def test_syntax_errors_name_the_position(expression: str, message: str) -> None:
    with pytest.raises(BadRequestData, match=re.escape(message)):
        parse_expression(expression)


def test_an_expression_is_parsed_once_per_text() -> None:
    assert parse_expression("a * 2 + b") is parse_expression("a * 2 + b")


def test_large_numbers_format_without_losing_digits() -> None:
    assert run("-101|tofixed(100)") == "-101." + "0" * 100
    assert run("n|localestringnumber('en')", {"n": -1e30}) == "-1" + ",000" * 10
    assert run("n|tofixed(2)", {"n": 1e21}) == "1e+21"


@pytest.mark.parametrize(
    ("text", "iso"),
    [  # as Node.js reads them on a UTC clock (an IoT Agent container's)
        ("2021/11/18 14:20:14", "2021-11-18T14:20:14.000Z"),
        ("11/18/2021", "2021-11-18T00:00:00.000Z"),
        ("18 Nov 2021", "2021-11-18T00:00:00.000Z"),
        ("Nov 18 2021 14:20:14", "2021-11-18T14:20:14.000Z"),
        ("2021-11-18 14:20", "2021-11-18T14:20:00.000Z"),
        ("2021-11-18T14:20:14+0100", "2021-11-18T13:20:14.000Z"),
        ("2021-11-18T14:20:14.123456Z", "2021-11-18T14:20:14.123Z"),
        ("2021-02-30", "2021-03-02T00:00:00.000Z"),  # rolls over
        ("2021-11-18T24:00:00Z", "2021-11-19T00:00:00.000Z"),
        ("2021-11-18T24:00:01Z", None),
        ("20211118T142014Z", None),
        ("12", None),  # Node.js: December 2001; engines differ, Dalgu takes none
    ],
)
def test_dates_are_read_as_nodejs_reads_them(text: str, iso: str | None) -> None:
    assert run("text|toisodate", {"text": text}) == iso


def test_a_pattern_that_backtracks_for_ever_is_replaced_at_once() -> None:
    """A config group's `s|replaceregexp("(a+)+$", "x")` and one measure of 40 `a`s and a `!`
    held the worker for minutes (Python's engine), and over MQTT every device's messages
    behind it, again after each takeover. In a process of its own: a regex holding the
    interpreter cannot be interrupted from inside."""
    script = """
from dalgu.devices.expressions import evaluate, parse_expression
text = {"s": "a" * 40 + "!"}
print(evaluate(parse_expression('s|replaceregexp("(a+)+$", "x")'), text))
print(evaluate(parse_expression('s|replaceregexp("a+!$", "x")'), text))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split("\n")[:2] == ["a" * 40 + "!", "x"], done.stdout + done.stderr
