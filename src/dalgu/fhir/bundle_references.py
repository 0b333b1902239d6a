"""The references of a transaction Bundle's resources resolved to its entries (R4 bundle.html
"Resolving references in Bundles", http.html "Transaction processing rules").

A transaction maps each entry's `fullUrl` (a `urn:uuid:`, or a RESTful URL such as
`http://ehr.example.org/fhir/Patient/456`) to the resource it becomes here (`Patient/<id>`),
and a conditional reference to the resource its search found. A reference that is one of
those is rewritten. A relative one (`Patient/456`) is made absolute first: against the root
of its entry's `fullUrl` when that is a RESTful URL (bundle.html: "extract the [root] from
the fullUrl, and append the reference (type/id) to it"), else against this server's base, as
a relative reference names a resource of the server it is sent to; it is rewritten when that
names an entry, and left as it is otherwise.

http.html also asks that every other link to an entry's fullUrl be replaced: an element of
type uri, url, oid or uuid that is one (an extension's `valueUri`, not a canonical), and an
`<a href="">` or `<img src="">` of the narrative. Those are found by the element types of the
resource's model, and only in a resource that holds the text of a fullUrl at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from dalgu.fhir.constraints import uri_fields
from dalgu.fhir.model import Resource
from dalgu.fhir.validation import resource_model
from dalgu.fhir.wire import without_empty

_RESTFUL = re.compile(
    r"(?P<root>https?://\S+)/[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?"
)
_RELATIVE = re.compile(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}")
_CONDITIONAL = re.compile(r"[A-Z][A-Za-z]+\?")
Path = tuple[str | int, ...]


def entry_root(full_url: str | None, base: str) -> str:
    """The root an entry's relative references are resolved against: its fullUrl's when
    that is a RESTful URL (`[root]/[type]/[id]`), else this server's `base`."""
    match = _RESTFUL.fullmatch(full_url) if full_url else None
    return match["root"] if match else base


@dataclass(frozen=True, slots=True)
class BundleLinks:
    """What a transaction's references may name: fullUrls and conditional references ->
    the `Type/id` each stands for here."""

    ids: dict[str, str]
    #: the fullUrls among `ids` (not conditional references): what other links may be
    full_urls: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        urls = frozenset(k for k in self.ids if not _CONDITIONAL.match(k))
        object.__setattr__(self, "full_urls", urls)

    def target(self, reference: str, root: str) -> str | None:
        """What `reference`, made in an entry whose relative references resolve against
        `root`, names among the entries; None when it names none of them."""
        found = self.ids.get(reference)
        if found is None and _RELATIVE.fullmatch(reference):
            found = self.ids.get(f"{root}/{reference}")
        return found

    def rewrite(self, resource: Resource, root: str) -> Resource:
        """The resource with each reference to an entry rewritten to what it names."""
        if not self.ids:
            return resource
        rewritten: Resource = self._references(resource, root)
        if isinstance(rewritten, dict) and _strings(rewritten) & self.full_urls:
            rewritten = without_empty(rewritten)  # as validated: list positions kept
            self._uris(rewritten)
            self._narratives(rewritten)
        return rewritten

    def _uris(self, resource: Resource) -> None:
        """Each uri, url, oid or uuid element that is an entry's fullUrl, replaced."""
        try:
            model = resource_model(str(resource.get("resourceType"))).model_validate(resource)
        except (ValidationError, ValueError, TypeError, LookupError):
            return  # not a valid resource: validating it answers why
        for path, value in _uri_elements(model, ()):
            if value in self.full_urls:
                _put(resource, path, self.ids[value])

    def _narratives(self, value: Any) -> None:
        """`<a href="">` and `<img src="">` naming an entry's fullUrl, in the resource's
        narrative and in those of the resources it contains."""
        if not isinstance(value, dict):
            return
        text = value.get("text")
        if isinstance(text, dict) and isinstance(text.get("div"), str):
            text["div"] = self._links(text["div"])
        for inner in value.get("contained") or []:
            self._narratives(inner)

    def _links(self, div: str) -> str:
        names = "|".join(re.escape(u) for u in sorted(self.full_urls, key=len, reverse=True))
        pattern = re.compile(rf"""(\b(?:href|src)\s*=\s*)(["'])({names})\2""")
        return pattern.sub(lambda m: f"{m[1]}{m[2]}{self.ids[m[3]]}{m[2]}", div)

    def _references(self, value: Any, root: str) -> Any:
        if isinstance(value, dict):
            out = {k: self._references(v, root) for k, v in value.items()}
            reference = out.get("reference")
            if isinstance(reference, str):
                target = self.target(reference, root)
                if target is not None:
                    out["reference"] = target
            return out
        if isinstance(value, list):
            return [self._references(v, root) for v in value]
        return value


def _strings(value: Any) -> set[str]:
    """Every string in a JSON value (the narrative's as a whole: its links are looked at
    when they hold a fullUrl, by `_links`)."""
    if isinstance(value, dict):
        return {s for member in value.values() for s in _strings(member)} | _in_narrative(value)
    if isinstance(value, list):
        return {s for member in value for s in _strings(member)}
    return {value} if isinstance(value, str) else set()


_ATTRIBUTE = re.compile(r"""\b(?:href|src)\s*=\s*(["'])(.*?)\1""")


def _in_narrative(value: dict[str, Any]) -> set[str]:
    div = value.get("div")
    if isinstance(div, str) and "status" in value:
        return {m[2] for m in _ATTRIBUTE.finditer(div)}
    return set()


def _uri_elements(model: BaseModel, path: Path) -> Iterator[tuple[Path, str]]:
    """(JSON path, value) of every uri, url, oid and uuid element of a validated model."""
    uris = uri_fields(type(model))
    for name, info in type(model).model_fields.items():
        value = getattr(model, name, None)
        if value is None:
            continue
        key = info.alias or name
        items = value if isinstance(value, list) else [value]
        for position, item in enumerate(items):
            at = (*path, key, position) if isinstance(value, list) else (*path, key)
            if name in uris and isinstance(item, str):
                yield at, item
            elif isinstance(item, BaseModel):
                yield from _uri_elements(item, at)


def _put(resource: Resource, path: Path, value: str) -> None:
    target: Any = resource
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
