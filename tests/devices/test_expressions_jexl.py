"""JEXL expressions whose values were computed by jexl 2.3.0 (the IoT Agents' version) with
iotagent-node-lib's transforms loaded, over the context below: drawn at random from a
differential run of Dalgu's evaluator against it (3,000 expressions per seed), so that any
change in Dalgu's JavaScript semantics shows here. Arrays show undefined items as null and
objects leave undefined members out, as JSON.stringify wrote jexl's answers."""

from __future__ import annotations

from typing import Any

import pytest

from dalgu.devices.expressions import evaluate, parse_expression
from dalgu.devices.expressions.values import to_json

CONTEXT: dict[str, Any] = {
    "a": 3,
    "b": "12",
    "c": "abc",
    "d": 2.5,
    "e": [1, 2, 3],
    "f": {"x": 1, "y": "two", "90": {"max": 10}},
    "g": True,
    "h": False,
    "i": "",
    "j": 0,
    "k": " 5 ",
    "l": [{"x": 1}, {"x": 2}],
    "m": "2021-11-18T14:20:14.901Z",
    "n": 1637245214901,
    "o": -7,
    "p": "1e3",
    "q": "0x1F",
    "r": [],
    "s": "a,b,c",
    "t": "48656c6c6f",
    "u": 1.005,
}

JEXL_2_3 = [
    ("p", "1e3"),
    ("[b[90|tostring].max, b]", [None, "12"]),
    ("[1,2]", [1, 2]),
    ("!j + o", -6),
    ("!!m", True),
    ("-1|valuePickerMulti([1,'two'])", []),
    ("!((h)) - i", 1),
    ("{z: 1} ? u : o", 1.005),
    ("s.length ^ (1|substr(1)|bitwisemask(1,'|',1) && undefined)", 1),
    ("i[.x == 1] == [q || null, g]", False),
    ('l|trim < n["90"]', False),
    ("[[d, r|joinarrtostr('-')] * !(c ? k : n), t]", [None, "48656c6c6f"]),
    ("('' in [([1,2]) / h, h['x']]) <= {z: 1}|indexOf('b')", True),
    ("!((c)) ? 2.5 : (k)", " 5 "),
    (
        "[[-1|lengtharray + r, (l + {z: 1})], !c]",
        [["undefined", "[object Object],[object Object][object Object]"], False],
    ),
    ("m|bitwisemask(3,'&',0) + ('x'|jsonparse - !m['x'])", 0),
    ("(i) > d", False),
    ("!(n)", False),
    ("t[90|tostring].max in (t % (l in [f >= -1, i]))", False),
    ("-1", -1),
    ("a.y < (false * (1|isnan || [2.5 // '', a]))", False),
    ("!p|replacestr('a','$&$&')|bitwisemask(3,'&',0)", False),
    ("m && !c|addreduce|ceil", True),
    ("k * (r > 0)", 0),
    ("1", 1),
    ("t", "48656c6c6f"),
    ("f + false|substr(1)", "[object Object]alse"),
    ("!m > (([' 3 ' + b, b]))", False),
    ("(r)|urlencode <= !(a['x'] || [q > f, u])", True),
    ("[(q in a) // [b / \"12\", 'x'], m]|trim", "NaN,2021-11-18T14:20:14.901Z"),
    ("(o)", -7),
    ("(f)", {"90": {"max": 10}, "x": 1, "y": "two"}),
    ("([!-1 != t|urldecode, k]) >= e", True),
    ("[1,2] > f", False),
    ("[j[0], e|lengtharray]", [None, 3]),
    ("m|tofixed(1) < q", False),
    ("(t|touppercase)", "48656C6C6F"),
    ("(undefined ^ (t)|isarray) / d", 0.4),
    ("c >= ([false == t, n])|lengtharray", False),
    ("p in t[0]", False),
    ("r", []),
    ("['x' in g, i]", [False, ""]),
    ('"12"', "12"),
    ('[((i ? m : g) in k["90"]) in [!j, [1,2]], ([true in true, q] in (q))]', [False, False]),
    ("'x'|slice(1) != [t, ['x', g[\"90\"]]]", True),
    ("l|length", 31),
    ("n >= false", True),
    ('p - (1 % ([c / "12", "12"] < \'x\'))', 1000),
    ("!j|substr(1)|indexOf('b') + c|split(',')", "falseabc"),
    ("!b.x", True),
    ("b == ([j[.x == 1], d] % c)", False),
    ("!' 3 '|addset(2) < ('' || e)", False),
    ("false", False),
    ("[r ? (m)|mapper([1,2,3],['a','b','c']) : false|hextostring, ((j))]", [None, 0]),
    ("i", ""),
    ("([true, '']|addset(2))", [True, "", 2]),
    ("1 <= j[1]", False),
    ("true ? 0 : (r[1])", 0),
    ("f[.x == 1]|removeset(2)", [{"90": {"max": 10}, "x": 1, "y": "two"}]),
    ('o|floor == q["90"]', False),
    ('(!-1|addreduce) > "12"', False),
    ("((i in (u >= q))) != ![!i || [i, j], u]", False),
    ("(h < [j, {z: 1}|length]) in k.y", False),
    ("0 <= [(a), [p * true|thmapper([1,5,10],['lo','mid','hi']), undefined]]", False),
    ("{z: 1} == [1,2]", False),
    ("(d)", 2.5),
    ("(i|parseint % (o)) && b.y", 0),
    ("q", "0x1F"),
    ("l", [{"x": 1}, {"x": 2}]),
    ("g|ceil || t", 1),
]


@pytest.mark.parametrize(("expression", "expected"), JEXL_2_3)
def test_values_are_those_jexl_computes(expression: str, expected: Any) -> None:
    value = to_json(evaluate(parse_expression(expression), CONTEXT))
    if isinstance(expected, float):
        assert value == pytest.approx(expected, rel=1e-12)
    else:
        assert value == expected and type(value) is type(expected)
