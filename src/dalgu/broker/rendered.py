"""Rendered entities kept as JSON bytes, by stored document, context and representation.

Rendering a stored entity (parse its JSON, compact each IRI, drop system members, encode) costs
~10 µs of Python; a page of 100 costs a millisecond, more than the query that found them. The
result depends on nothing but the stored document, the term map of the request's @context and
the `Representation`, so it is kept under exactly those: a write gives the entity a new
document (its `modifiedAt` at least), which simply misses, and nothing is ever invalidated.
Lists are then the concatenation of cached bytes.

Memory is bounded in bytes (documents and renderings counted): entries live in two
generations; when the young one fills half the budget, the old one is dropped and the young
one becomes old; a hit in the old generation moves the entry back to the young one.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any

import orjson

from dalgu.broker.render import Representation, render_entity
from dalgu.jsonbytes import dumps
from dalgu.ldcontext import core_context_bytes, core_terms
from dalgu.ldcontext.termmap import TermMap
from dalgu.store.base import DefaultRendering, Entity

#: bytes an entry costs beyond its document and rendering (two bytes objects, a dict slot)
ENTRY_OVERHEAD = 120
#: most (term map, representation) pairs kept at once; the least recently used goes first
MAX_VIEWS = 64

EMPTY = b"{}"  # an entity a projection leaves empty (lists leave it out)


class _View:
    """The renderings of one (term map, representation)."""

    __slots__ = ("old", "rep", "terms", "young")

    def __init__(self, terms: TermMap, rep: Representation) -> None:
        self.terms = terms  # held: the key's identity stays this term map's
        self.rep = rep
        self.young: dict[bytes, bytes] = {}
        self.old: dict[bytes, bytes] = {}


class RenderCache:
    """Rendered entity bytes; `max_bytes` 0 keeps nothing (each call renders)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._views: dict[tuple[int, Representation], _View] = {}
        self._young_bytes = 0
        self._last: _View | None = None  # the view asked for last (hashing no dataclass)

    def render(self, documents: list[bytes], terms: TermMap, rep: Representation) -> list[bytes]:
        """Each stored document rendered as `rep` asks with `terms`, as JSON bytes."""
        if self.max_bytes <= 0:
            return [orjson.dumps(render_entity(orjson.loads(d), terms, rep)) for d in documents]
        view = self._view(terms, rep)
        young, old = view.young, view.old
        out = []
        for doc in documents:
            rendered = young.get(doc)
            if rendered is None:
                rendered = old.pop(doc, None)
                if rendered is None:
                    rendered = dumps(render_entity(orjson.loads(doc), terms, rep))
                young[doc] = rendered
                self._young_bytes += len(doc) + len(rendered) + ENTRY_OVERHEAD
                if self._young_bytes > self.max_bytes // 2:
                    self._age()
                    young, old = view.young, view.old
            out.append(rendered)
        return out

    def _view(self, terms: TermMap, rep: Representation) -> _View:
        last = self._last
        if last is not None and last.terms is terms and last.rep is rep:
            return last
        key = (id(terms), rep)
        view = self._views.pop(key, None)
        if view is None or view.terms is not terms:
            view = _View(terms, rep)
            if len(self._views) >= MAX_VIEWS:
                del self._views[next(iter(self._views))]
        self._views[key] = view  # last: the most recently used
        self._last = view
        return view

    def _age(self) -> None:
        """The young generation becomes the old one; the old one is dropped."""
        for view in self._views.values():
            view.old = view.young
            view.young = {}
        self._young_bytes = 0


#: the modules whose code decides a rendering's bytes
_RENDERING_CODE = (
    ("dalgu.broker", "render.py"),
    ("dalgu.broker", "model.py"),
    ("dalgu.ldcontext", "termmap.py"),
)


@cache
def default_rendering() -> DefaultRendering:
    """Retrieve Entity's answer with the core context only and no options (what
    `api/retrieve.py` sends), for stores to keep with each entity they write. Its version is
    a digest of the core context and of the rendering code: a change to either makes stores
    render their entities again (they never send what other code made)."""
    terms = core_terms()
    rep = DEFAULT_VIEW
    digest = hashlib.sha256(core_context_bytes())
    for package, module in _RENDERING_CODE:
        digest.update(resources.files(package).joinpath(module).read_bytes())

    def render(entity: Entity) -> bytes:
        return dumps(render_entity(entity, terms, rep))

    return DefaultRendering(digest.hexdigest()[:16], render)


def is_default_view(terms: TermMap, rep: Representation) -> bool:
    """Whether entities rendered with `terms` as `rep` asks are their kept default renderings
    (`default_rendering`)."""
    return terms is core_terms() and rep == DEFAULT_VIEW


#: the representation kept renderings are in (normalized, no options)
DEFAULT_VIEW = Representation()


def with_context(rendered: bytes, context: Any) -> bytes:
    """A rendered entity (a non-empty JSON object) with `@context` as its last member, the
    bytes `orjson.dumps({**entity, "@context": context})` gives."""
    return rendered[:-1] + b',"@context":' + orjson.dumps(context) + b"}"
