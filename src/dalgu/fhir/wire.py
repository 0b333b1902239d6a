"""What FHIR's JSON format asks of a resource beyond its model (R4 json.html, narrative.html):
primitives of their JSON type, no empty arrays or objects, and a narrative without scripts.

`fhir.resources` validates in pydantic's lax mode, which converts `"true"` to a boolean and
`"72.5"` to a decimal; the body is stored as sent, so such a value would be served as a string
and searched as one. `json_type_problems` walks the validated model beside the JSON and names
each primitive whose JSON type is not its FHIR type's. `without_empty` drops the empty
arrays and empty objects FHIR JSON does not allow (as HAPI's parser does).
`narrative_problems` refuses what narrative.html forbids in `text.div`: scripts, forms,
frames, objects, event attributes and `javascript:` links (a viewer renders the narrative as
HTML).
"""

from __future__ import annotations

import datetime
import decimal
import re
import types
import typing
from functools import cache
from typing import Any
from xml.etree import ElementTree

from pydantic import BaseModel

from dalgu.fhir import decimals

#: JSON kinds of FHIR primitives: boolean, integer (integer, positiveInt, unsignedInt),
#: decimal, and string (every other primitive: string, code, uri, date, dateTime, ...)
_KINDS: dict[Any, str] = {
    bool: "boolean",
    int: "integer",
    decimal.Decimal: "decimal",
    float: "decimal",
    str: "string",
    datetime.date: "string",
    datetime.datetime: "string",
    datetime.time: "string",
}

#: characters FHIR strings do not have (datatypes.html, string: none below U+0020 but tab,
#: carriage return and line feed); `_ESCAPED_CONTROL` finds them in orjson's output, which
#: writes them escaped (`\u0000`, `\b`, `\f`; an escaped backslash followed by such text
#: only costs a walk that finds nothing)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ESCAPED_CONTROL = re.compile(rb"\\u00[01]|\\[bf]")

_FORBIDDEN_ELEMENTS = frozenset(
    {"html", "head", "body", "script", "style", "link", "base", "meta", "form", "input"}
    | {"button", "select", "textarea", "frame", "frameset", "iframe", "object", "embed"}
    | {"applet", "param"}
)
_UNSAFE_URL = re.compile(r"\s*(javascript|vbscript|data\s*:\s*text/html)", re.IGNORECASE)


def _base(annotation: Any) -> Any:
    """The type inside Optional, list and Annotated wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated or origin is list:
            annotation = typing.get_args(annotation)[0]
        elif origin is typing.Union or origin is types.UnionType:
            kept = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(kept) != 1:
                return None
            annotation = kept[0]
        else:
            return annotation


@cache
def _fields(model: type[BaseModel]) -> dict[str, tuple[str, str | None]]:
    """JSON key -> (field name, primitive kind or None for a complex element)."""
    out: dict[str, tuple[str, str | None]] = {}
    for name, info in model.model_fields.items():
        kind = _KINDS.get(_base(info.annotation))
        out[info.alias or name] = (name, kind)
    return out


def _fits(value: Any, kind: str) -> bool:
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "decimal":
        return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)
    return isinstance(value, str)


def json_type_problems(model: BaseModel, raw: dict[str, Any], path: str) -> list[str]:
    """Each primitive of `raw` whose JSON type is not its element's (`model` is `raw`
    validated), as `path.element: problem`."""
    problems: list[str] = []
    fields = _fields(type(model))
    for key, value in raw.items():
        spec = fields.get(key)
        if spec is None:
            continue
        name, kind = spec
        held = getattr(model, name, None)
        values = value if isinstance(value, list) else [value]
        models = held if isinstance(held, list) else [held]
        for position, item in enumerate(values):
            where = f"{path}.{key}" + (f"[{position}]" if isinstance(value, list) else "")
            if kind is not None:
                if item is not None and not _fits(item, kind):
                    problems.append(f"{where}: {json_text(item)} is not a JSON {kind}")
                continue
            sub = models[position] if position < len(models) else None
            if isinstance(sub, BaseModel) and isinstance(item, dict):
                problems += json_type_problems(sub, item, where)
    return problems


def without_empty(value: Any) -> Any:
    """`value` without empty arrays and empty objects, at every depth. (A null member is
    refused by validation instead: it is more often a client's mistake than a leftover.)"""
    if isinstance(value, dict):
        out = {}
        for key, member in value.items():
            kept = without_empty(member)
            if kept == [] or kept == {}:
                continue
            out[key] = kept
        return out
    if isinstance(value, list):
        items = [without_empty(item) for item in value]
        return [item for item in items if item != {} and item != []]
    return value


def null_problems(value: Any, path: str) -> list[str]:
    """Each `null` of the resource: FHIR JSON has none (json.html), but in an array of a
    primitive and its `_element` twin, where a `null` holds the place of an item that the
    other array has (`"given": ["A", null], "_given": [null, {"id": "g"}]`)."""
    problems: list[str] = []
    if isinstance(value, dict):
        for key, member in value.items():
            where = f"{path}.{key}"
            if member is None:
                problems.append(f"{where}: null is not a value (FHIR JSON has no nulls)")
            elif isinstance(member, list):
                twin = value.get(key[1:] if key.startswith("_") else f"_{key}")
                twin = twin if isinstance(twin, list) else []
                for position, item in enumerate(member):
                    held = position < len(twin) and twin[position] is not None
                    if item is None and not held:
                        problems.append(
                            f"{where}[{position}]: null is not a value (FHIR JSON has no nulls)"
                        )
                    else:
                        problems += null_problems(item, f"{where}[{position}]")
            else:
                problems += null_problems(member, where)
    return problems


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def narrative_problems(resource: Any, path: str) -> list[str]:
    """What narrative.html forbids in each `text.div` of the resource and its contained
    resources."""
    problems: list[str] = []
    if not isinstance(resource, dict):
        return problems
    text = resource.get("text")
    if isinstance(text, dict) and isinstance(text.get("div"), str):
        problems += _div_problems(text["div"], f"{path}.text.div")
    for position, contained in enumerate(resource.get("contained") or []):
        problems += narrative_problems(contained, f"{path}.contained[{position}]")
    return problems


def _div_problems(div: str, where: str) -> list[str]:
    if "<!DOCTYPE" in div.upper() or "<!ENTITY" in div.upper():
        return [f"{where}: a narrative has no DOCTYPE or entity declarations"]
    try:
        root = ElementTree.fromstring(div)
    except ElementTree.ParseError as exc:
        return [f"{where}: not well-formed XHTML ({exc})"]
    problems = []
    if _local(root.tag) != "div":
        problems.append(f"{where}: the narrative's root element is a div")
    for element in root.iter():
        tag = _local(element.tag)
        if tag in _FORBIDDEN_ELEMENTS:
            problems.append(f"{where}: <{tag}> is not allowed in a narrative")
        for attribute, value in element.attrib.items():
            name = _local(attribute)
            if name.startswith("on"):
                problems.append(f"{where}: event attribute {name!r} is not allowed")
            elif name in ("href", "src") and _UNSAFE_URL.match(value):
                problems.append(f"{where}: {name}={value[:40]!r} is not allowed")
    return problems


def json_text(value: Any, limit: int = 80) -> str:
    """`value` as JSON text for a diagnostic (`null`, `"on"`, `true`; never a Python repr),
    cut at `limit` characters."""
    try:
        text = decimals.dumps(value).decode()
    except TypeError:
        text = type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def control_character_problems(resource: Any, path: str) -> list[str]:
    """Each string of `resource` holding a control character FHIR strings forbid."""
    if not _ESCAPED_CONTROL.search(decimals.dumps(resource)):
        return []
    problems: list[str] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, str):
            found = _CONTROL.search(value)
            if found is not None:
                problems.append(
                    f"{where}: control character U+{ord(found[0]):04X} is not allowed in a"
                    " FHIR string"
                )
        elif isinstance(value, dict):
            for key, member in value.items():
                walk(member, f"{where}.{key}")
        elif isinstance(value, list):
            for position, item in enumerate(value):
                walk(item, f"{where}[{position}]")

    walk(resource, path)
    return problems
