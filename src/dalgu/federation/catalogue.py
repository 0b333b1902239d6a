"""`/types` and `/attributes` across context sources (clauses 5.7.5–5.7.10 with 4.3.6): what
each claim answers, read back into this broker's `TypeInfo` and `AttributeInfo` and merged
with its own. Counts add up (an entity split across sources is counted by each)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from dalgu.federation.distributor import Forward, Plan
from dalgu.ldcontext.termmap import TermMap
from dalgu.store.base import AttributeInfo, TypeInfo


async def _answers(
    plan: Plan,
    terms: TermMap,
    path: str,
    given: Iterable[tuple[str, str]],
    local: Callable[[], Awaitable[Any]],
) -> tuple[Any, list[tuple[Any, TermMap]]]:
    """This broker's answer and each claim's JSON (None where it failed), with the terms to
    read it with (`terms`, the request's, unless the source speaks another vocabulary)."""
    pairs = [(k, v) for k, v in given if k != "local"] or None
    forwards = [Forward(c, "GET", path, pairs) for c in plan.claims]
    held: list[Any] = []

    async def here() -> None:
        held.append(await local())

    outcomes = await plan.distributor.run(plan.origin, forwards, here)
    if outcomes[0].error is not None:
        raise outcomes[0].error
    remote = [
        (o.reply.json(), o.reply.terms or terms)
        if o.reply is not None and o.error is None
        else (None, terms)
        for o in outcomes[1:]
    ]
    return held[0], remote


def _names(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _type_infos(answer: Any, terms: TermMap) -> list[TypeInfo]:
    """An EntityTypeList, a list of EntityType or an EntityTypeInfo, as TypeInfo."""
    if isinstance(answer, dict) and answer.get("type") == "EntityTypeList":
        return [TypeInfo(terms.expand(n), 0) for n in _names(answer.get("typeList"))]
    if isinstance(answer, dict) and answer.get("type") == "EntityTypeInfo":
        details = answer.get("attributeDetails")
        attributes = (
            {
                terms.expand(d["attributeName"]): frozenset(_names(d.get("attributeTypes")))
                for d in details
                if isinstance(d, dict) and isinstance(d.get("attributeName"), str)
            }
            if isinstance(details, list)
            else {}
        )
        count = answer.get("entityCount")
        name = answer.get("typeName")
        if not isinstance(name, str):
            return []
        return [TypeInfo(terms.expand(name), count if isinstance(count, int) else 0, attributes)]
    infos = []
    for item in answer if isinstance(answer, list) else ():
        if isinstance(item, dict) and isinstance(item.get("typeName"), str):
            names: dict[str, frozenset[str]] = {
                terms.expand(n): frozenset() for n in _names(item.get("attributeNames"))
            }
            infos.append(TypeInfo(terms.expand(item["typeName"]), 0, names))
    return infos


def _merge_types(mine: list[TypeInfo], theirs: list[TypeInfo]) -> list[TypeInfo]:
    by_type = {t.type: t for t in mine}
    for info in theirs:
        held = by_type.get(info.type)
        if held is None:
            by_type[info.type] = info
            continue
        attributes = dict(held.attributes)
        for name, kinds in info.attributes.items():
            attributes[name] = attributes.get(name, frozenset()) | kinds
        by_type[info.type] = TypeInfo(info.type, held.entity_count + info.entity_count, attributes)
    return sorted(by_type.values(), key=lambda t: t.type)


async def types(
    plan: Plan,
    terms: TermMap,
    path: str,
    given: Iterable[tuple[str, str]],
    local: Callable[[], Awaitable[list[TypeInfo]]],
) -> list[TypeInfo]:
    """`GET /types` (or `/types/{type}`) here and at each claim, merged by type."""
    mine, answers = await _answers(plan, terms, path, given, local)
    merged: list[TypeInfo] = list(mine)
    for answer, vocabulary in answers:
        merged = _merge_types(merged, _type_infos(answer, vocabulary))
    return merged


def _attribute_infos(answer: Any, terms: TermMap) -> list[AttributeInfo]:
    """An AttributeList, a list of Attribute or one Attribute, as AttributeInfo."""
    if isinstance(answer, dict) and answer.get("type") == "AttributeList":
        return [
            AttributeInfo(terms.expand(n), 0, frozenset(), frozenset())
            for n in _names(answer.get("attributeList"))
        ]
    items = answer if isinstance(answer, list) else [answer]
    infos = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("attributeName"), str):
            continue
        count = item.get("attributeCount")
        infos.append(
            AttributeInfo(
                terms.expand(item["attributeName"]),
                count if isinstance(count, int) else 0,
                frozenset(_names(item.get("attributeTypes"))),
                frozenset(terms.expand(n) for n in _names(item.get("typeNames"))),
            )
        )
    return infos


async def attributes(
    plan: Plan,
    terms: TermMap,
    path: str,
    given: Iterable[tuple[str, str]],
    local: Callable[[], Awaitable[list[AttributeInfo]]],
) -> list[AttributeInfo]:
    """`GET /attributes` (or `/attributes/{attr}`) here and at each claim, merged by name."""
    mine, answers = await _answers(plan, terms, path, given, local)
    by_name = {a.name: a for a in mine}
    for answer, vocabulary in answers:
        for info in _attribute_infos(answer, vocabulary):
            held = by_name.get(info.name)
            by_name[info.name] = (
                info
                if held is None
                else AttributeInfo(
                    info.name,
                    held.attribute_count + info.attribute_count,
                    held.attribute_types | info.attribute_types,
                    held.type_names | info.type_names,
                )
            )
    return sorted(by_name.values(), key=lambda a: a.name)
