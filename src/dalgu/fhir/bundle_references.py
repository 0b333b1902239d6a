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
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dalgu.fhir.model import Resource

_RESTFUL = re.compile(
    r"(?P<root>https?://\S+)/[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?"
)
_RELATIVE = re.compile(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}")


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
        return rewritten

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
