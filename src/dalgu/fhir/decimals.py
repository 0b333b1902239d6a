"""FHIR decimals kept as they were written (R4 datatypes.html, decimal: "the precision of the
decimal value has significance: e.g. 0.010 is regarded as different to 0.01, and the
original precision should be preserved"; json.html: decimals are not to be read as floats).

orjson reads every number with a fraction or an exponent as a binary float: `37.50` comes back
as `37.5`, `1E-400` as `0.0`. A FHIR body (or a stored resource read to be changed) holding
such a number is read again here by the standard library, each of them as an `ExactDecimal`
that keeps its text, and `dumps` writes that text back. Bodies with none (most: the pre-check
is one C regex search) are orjson's alone; the NGSI-LD API's JSON is not touched.
"""

from __future__ import annotations

import decimal
import json
import re
from typing import Any

import orjson

#: a digit then a fraction or an exponent: where a JSON number may be one orjson would round
#: (in strings too, such as dates: those bodies are only read twice)
_INEXACT = re.compile(rb"\d[.eE]")


class ExactDecimal(decimal.Decimal):
    """A JSON number with a fraction or an exponent, with the text it was written as."""

    text: str

    def __new__(cls, text: str) -> ExactDecimal:
        number = super().__new__(cls, text)
        number.text = text
        return number


def _exact(value: Any) -> Any:
    if isinstance(value, ExactDecimal):
        return orjson.Fragment(value.text)
    if isinstance(value, decimal.Decimal):
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON")


def loads(raw: bytes, parsed: Any = None) -> Any:
    """The JSON `raw` (already read by orjson as `parsed`, when given), its numbers with a
    fraction or an exponent as `ExactDecimal`s."""
    if not _INEXACT.search(raw):
        return orjson.loads(raw) if parsed is None else parsed
    return json.loads(raw, parse_float=ExactDecimal)


def dumps(value: Any) -> bytes:
    """`orjson.dumps`, decimals written as they were read."""
    return orjson.dumps(value, default=_exact)
