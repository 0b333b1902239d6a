"""Rendered entities kept as bytes: the same bytes as rendering afresh, bounded in memory."""

from __future__ import annotations

import orjson
import pytest

from dalgu.broker.render import Representation, render_entity
from dalgu.broker.rendered import RenderCache, with_context
from dalgu.ldcontext import CORE_CONTEXT_URL
from dalgu.ldcontext.core import core_context_document
from dalgu.ldcontext.termmap import ContextBuilder, TermMap

VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"


def terms_of(*contexts: dict[str, str]) -> TermMap:
    builder = ContextBuilder()
    builder.add(dict(core_context_document()["@context"]), core=True)
    for context in contexts:
        builder.add(context)
    return builder.build()


def vehicle(i: int, speed: int = 50, at: str = "2026-12-03T00:00:00.000Z") -> bytes:
    system = {"createdAt": at, "modifiedAt": at}
    return orjson.dumps(
        {
            "id": f"urn:ngsi-ld:Vehicle:{i}",
            "type": [VOCAB + "Vehicle"],
            **system,
            VOCAB + "speed": [{"type": "Property", "value": speed, "unitCode": "KMH", **system}],
            "https://schema.org/brand": [{"type": "Property", "value": "Kia", **system}],
        }
    )


REPRESENTATIONS = [
    Representation(),
    Representation("keyValues"),
    Representation("concise", sys_attrs=True),
]


@pytest.mark.parametrize("rep", REPRESENTATIONS)
def test_cached_bytes_equal_a_fresh_rendering(rep: Representation) -> None:
    cache, terms = RenderCache(1 << 20), terms_of()
    docs = [vehicle(i) for i in range(5)]
    first = cache.render(docs, terms, rep)
    again = cache.render(docs, terms, rep)
    fresh = [orjson.dumps(render_entity(orjson.loads(d), terms, rep)) for d in docs]
    assert first == again == fresh


def test_a_changed_entity_is_rendered_from_its_new_document() -> None:
    cache, terms = RenderCache(1 << 20), terms_of()
    (before,) = cache.render([vehicle(1, speed=50)], terms, Representation())
    later = vehicle(1, speed=80, at="2026-12-03T00:00:01.000Z")
    (after,) = cache.render([later], terms, Representation())
    assert orjson.loads(before)["speed"]["value"] == 50
    assert orjson.loads(after)["speed"]["value"] == 80


def test_each_context_has_its_own_renderings() -> None:
    cache = RenderCache(1 << 20)
    doc = vehicle(1)
    (core,) = cache.render([doc], terms_of(), Representation())
    (schema,) = cache.render(
        [doc], terms_of({"brand": "https://schema.org/brand"}), Representation()
    )
    assert "https://schema.org/brand" in orjson.loads(core)
    assert "brand" in orjson.loads(schema)


def test_memory_stays_within_the_budget() -> None:
    budget = 64 * 1024
    cache, terms = RenderCache(budget), terms_of()
    for start in range(0, 2000, 100):
        cache.render([vehicle(i) for i in range(start, start + 100)], terms, Representation())
    kept = sum(
        len(doc) + len(out)
        for view in cache._views.values()
        for generation in (view.young, view.old)
        for doc, out in generation.items()
    )
    assert 0 < kept <= budget


def test_a_zero_budget_keeps_nothing_and_still_renders() -> None:
    cache, terms = RenderCache(0), terms_of()
    (out,) = cache.render([vehicle(1)], terms, Representation())
    assert orjson.loads(out)["id"] == "urn:ngsi-ld:Vehicle:1"
    assert not cache._views


def test_with_context_gives_the_bytes_of_the_object_with_context_last() -> None:
    entity = {"id": "urn:ngsi-ld:Vehicle:1", "type": "Vehicle", "speed": {"value": 1}}
    for context in (CORE_CONTEXT_URL, ["https://example.org/ctx.jsonld", CORE_CONTEXT_URL]):
        spliced = with_context(orjson.dumps(entity), context)
        assert spliced == orjson.dumps({**entity, "@context": context})
