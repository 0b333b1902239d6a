"""A forwarded request's names said in a context source's vocabulary (clause 4.3.6.6,
`jsonldContext`): each name is expanded with the client's @context and compacted with the
source's, as clause 5.5.7 expands and compacts terms.

The request keeps the client's shape (concise or normalized attributes, a merge's bare values
and Nulls, a partial attribute fragment): only names change. They are the names `broker.parse`
reads: attribute and sub-attribute names, entity types, `vocab` and `objectType` values, and
the names the query parameters carry (`type`, `attrs`, `pick`, `omit`, `q`, `geoproperty`).
Values are not JSON-LD processed, as nowhere in Dalgu (`ldcontext.termmap`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote

from dalgu.broker.model import MEMBERS, SYSTEM_MEMBERS
from dalgu.broker.parse import is_attribute_instance
from dalgu.errors import DalguError
from dalgu.federation.qtext import q_text, type_text
from dalgu.ldcontext.termmap import TermMap
from dalgu.query.ast import map_names, map_type_names
from dalgu.query.q import parse_q
from dalgu.query.typesel import parse_type_selection

#: names that are NGSI-LD's own, never terms of a user context
_KEPT = frozenset({"id", "@id", "type", "@type", "scope", "*"}) | SYSTEM_MEMBERS
#: an attribute's members that hold names (expanded on input, compacted on output)
_NAMED_MEMBERS = frozenset({"vocab", "objectType", "valueType"})
#: value members of an attribute: an object with one of them (or `type`) is an attribute
#: query parameters that list attribute names
_NAME_LISTS = frozenset({"attrs", "expandValues", "jsonKeys", "keep", "drop"})
_SINGLE_NAMES = frozenset({"geoproperty", "geometryProperty"})
_PROJECTIONS = frozenset({"pick", "omit"})
_PROJECTION_NAME = re.compile(r"[^,|{}\s]+")
#: a path that ends in a name: an entity's attribute (the entity id has no `/`), a type
_NAMED_PATH = re.compile(r"^(/entities/[^/]+/attrs/|/types/|/attributes/)(.+)$")


class Translation:
    """Names of `client`'s vocabulary (the request's @context) in `target`'s."""

    __slots__ = ("client", "target")

    def __init__(self, client: TermMap, target: TermMap) -> None:
        self.client = client
        self.target = target

    def name(self, name: str) -> str:
        """An attribute or entity type name."""
        if name in _KEPT:
            return name
        return self.target.compact(self.client.expand(name))

    def names(self, value: Any) -> Any:
        """A name or a list of names (`type`, `vocab`, `objectType`, a Query's `attrs`)."""
        if isinstance(value, str):
            return self.name(value)
        if isinstance(value, list):
            return [self.name(v) if isinstance(v, str) else v for v in value]
        return value

    # --- payloads ------------------------------------------------------------------------

    def entity(self, doc: Any) -> Any:
        """An entity or entity fragment (its `@context` left out)."""
        if not isinstance(doc, dict):
            return doc
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if key == "@context":
                continue
            if key in ("type", "@type"):
                out[key] = self.names(value)
            elif key in _KEPT:
                out[key] = value
            else:
                out[self.name(key)] = self.attribute(value)
        return out

    def attribute(self, value: Any) -> Any:
        """An attribute: one instance, several (datasetId), or a concise bare value."""
        if isinstance(value, list):
            return [self.instance(v) if is_attribute_instance(v) else v for v in value]
        return self.instance(value) if is_attribute_instance(value) else value

    def instance(self, value: Any) -> Any:
        """An attribute instance, or a partial one (the body of PATCH .../attrs/{attrId})."""
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for member, inner in value.items():
            if member == "@context":
                continue
            if member in _NAMED_MEMBERS:
                out[member] = self.names(inner)
            elif member in MEMBERS:
                out[member] = inner
            else:
                out[self.name(member)] = self.attribute(inner)
        return out

    def query(self, doc: Any) -> Any:
        """A Query (POST /entityOperations/query, clause 5.2.23)."""
        if not isinstance(doc, dict):
            return doc
        out = {k: v for k, v in doc.items() if k != "@context"}
        entities = out.get("entities")
        if isinstance(entities, list):
            out["entities"] = [self._selector(e) for e in entities]
        for key in ("attrs", "pick", "omit", "expandValues", "jsonKeys"):
            if isinstance(out.get(key), list):
                out[key] = self.names(out[key])
            elif isinstance(out.get(key), str):
                out[key] = self.param(key, out[key])
        if isinstance(out.get("q"), str):
            out["q"] = self.q(out["q"])
        geo = out.get("geoQ")
        if isinstance(geo, dict) and isinstance(geo.get("geoproperty"), str):
            out["geoQ"] = {**geo, "geoproperty": self.name(geo["geoproperty"])}
        return out

    def _selector(self, selector: Any) -> Any:
        if isinstance(selector, dict) and isinstance(selector.get("type"), str):
            return {**selector, "type": self.type_selection(selector["type"])}
        return selector

    # --- query parameters and paths ------------------------------------------------------

    def params(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(key, self.param(key, value)) for key, value in pairs]

    def param(self, key: str, value: str) -> str:
        """One query parameter's value; a value that does not parse is sent as it came (the
        request was checked here before it was forwarded)."""
        try:
            if key == "type":
                return self.type_selection(value)
            if key == "q":
                return self.q(value)
        except DalguError:
            return value
        if key in _NAME_LISTS:
            return ",".join(self.name(n.strip()) for n in value.split(","))
        if key in _SINGLE_NAMES:
            return self.name(value)
        if key in _PROJECTIONS:
            return _PROJECTION_NAME.sub(lambda m: self.name(m.group()), value)
        return value

    def type_selection(self, text: str) -> str:
        expr = parse_type_selection(text)
        mapped = map_type_names(expr, self.name)
        return text if mapped == expr else type_text(mapped)

    def q(self, text: str) -> str:
        expr = parse_q(text)
        mapped = map_names(expr, self.name)
        return text if mapped == expr else q_text(mapped)

    def path(self, path: str) -> str:
        """`/entities/{id}/attrs/{attrId}`, `/types/{type}`, `/attributes/{attrId}`: the name
        in the path (an IRI's slashes and `#` percent-encoded)."""
        named = _NAMED_PATH.match(path)
        if named is None:
            return path
        return named.group(1) + quote(self.name(unquote(named.group(2))), safe=":")
