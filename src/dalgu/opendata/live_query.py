"""The live NGSI-LD query a dataset is a slice of, as a URL that works as it is published.

A dataset whose names a JSON-LD `context` defines (`ParkingSpot`, `status` of Smart Data
Models) is queried by those names only by a client that sends that context in a `Link`
header; GIS tools, CKAN's resource preview, link checkers and harvesters follow a URL and
send none, and got an empty answer. So the query's names are written expanded (their IRIs),
which the broker reads whatever the context: `type`, `attrs` and the attribute names of
`q`, each checked to parse into the very query the dataset's context makes;
a `q` that cannot be so rewritten leaves the query in short names (and its description says to
send the context).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from dalgu.errors import DalguError
from dalgu.opendata.model import Publication
from dalgu.opendata.validation import q_names
from dalgu.query.ast import TypeExpr, TypeName, map_names, map_type_names
from dalgu.query.q import parse_q
from dalgu.query.typesel import parse_type_selection

#: a quoted string of `q` (its names are not rewritten inside one)
_QUOTED = re.compile(r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')")


def _type_names(expr: TypeExpr) -> set[str]:
    if isinstance(expr, TypeName):
        return {expr.name}
    return {name for term in expr.terms for name in _type_names(term)}


def _rewritten(
    text: str, names: Iterable[str], expand: Callable[[str], str], parse: Callable[[str], Any]
) -> tuple[str, Any]:
    """`text` with each of `names` (as a whole name, outside quotes) written as its IRI, and
    what it parses into."""
    ordered = sorted(set(names), key=len, reverse=True)
    if not ordered:
        return text, parse(text)
    name = re.compile(r"(?<![\w.:/#-])(" + "|".join(map(re.escape, ordered)) + r")(?![\w:/#-])")
    parts = _QUOTED.split(text)
    written = "".join(
        part if i % 2 else name.sub(lambda m: expand(m[1]), part) for i, part in enumerate(parts)
    )
    return written, parse(written)


def expanded_query(pub: Publication, expand: Callable[[str], str]) -> tuple[tuple[str, str], ...]:
    """The query's parameters with every name expanded, or () when its `q` cannot be written
    so (then the short names and the context stand)."""
    try:
        types = parse_type_selection(pub.entity_type)
        type_text, type_parsed = _rewritten(
            pub.entity_type, _type_names(types), expand, parse_type_selection
        )
        if type_parsed != map_type_names(types, expand):
            return ()
        params = [("type", type_text)]
        attrs = [*pub.attributes, *([pub.geometry] if pub.geometry else [])]
        params.append(("attrs", ",".join(dict.fromkeys(expand(a) for a in attrs))))
        if pub.q:
            q_text, q_parsed = _rewritten(pub.q, q_names(pub.q), expand, parse_q)
            if q_parsed != map_names(parse_q(pub.q), expand):
                return ()
            params.append(("q", q_text))
    except DalguError:
        return ()
    return tuple(params)
