"""Dataset search as CKAN's `package_search` does it (`q`, `fq`, `sort`, facets), over the
datasets of a tenant in memory: a catalogue has hundreds of datasets, not millions.

Only the part of Solr's syntax CKAN clients send is read: `field:value` and
`field:"quoted value"` terms joined by spaces or `AND` (all must hold); free words in `q`
must each appear in a dataset's name, title, notes, tags or organization.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from dalgu.errors import InvalidFields
from dalgu.opendata.model import Dataset

#: fields that fq (and q) may filter on
FILTER_FIELDS = frozenset(["tags", "organization", "res_format", "license_id", "name"])
FACET_FIELDS = frozenset(["tags", "organization", "res_format", "license_id"])
SORT_FIELDS = frozenset(["score", "name", "title_string", "metadata_modified", "metadata_created"])
DEFAULT_SORT = "score desc, metadata_modified desc"
RESOURCE_FORMATS = ("NGSI-LD",)  # besides each dataset's download formats

_TERM = re.compile(r'\s*(?:(AND)\b|\+?([A-Za-z_]+):(?:"([^"]*)"|(\S+))|(\S+))')


@dataclass(frozen=True, slots=True)
class SearchQuery:
    q: str = ""
    fq: str = ""
    sort: str = DEFAULT_SORT
    rows: int = 10
    start: int = 0
    facet_fields: tuple[str, ...] = ()
    facet_limit: int = 50


@dataclass(slots=True)
class SearchResult:
    count: int
    datasets: list[Dataset]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    sort: str = DEFAULT_SORT


def values_of(dataset: Dataset, name: str) -> list[str]:
    """The values of a filterable field of a dataset."""
    if name == "tags":
        return list(dataset.tags)
    if name == "organization":
        return [dataset.organization] if dataset.organization else []
    if name == "res_format":
        return [*dataset.formats, *RESOURCE_FORMATS]
    if name == "license_id":
        return [dataset.license_id]
    return [dataset.name]


def _terms(text: str, where: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(field, value) filters and free words of a q or fq text."""
    filters: list[tuple[str, str]] = []
    words: list[str] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None:  # pragma: no cover - every non-space run matches the last branch
            break
        position = match.end()
        conjunction, name, quoted, bare, word = match.groups()
        if conjunction:
            continue
        if name is not None:
            if name not in FILTER_FIELDS:
                known = ", ".join(sorted(FILTER_FIELDS))
                raise InvalidFields({where: [f"cannot filter on {name}; fields: {known}"]})
            filters.append((name, quoted if quoted is not None else bare))
        elif word in ("OR", "NOT") or (word and word[0] in "-!("):
            raise InvalidFields({where: [f"{word!r}: only terms joined by AND are supported"]})
        elif word and word != "*:*":
            words.append(word.lower())
    return filters, words


def _text_of(dataset: Dataset) -> str:
    parts = [dataset.name, dataset.title, dataset.notes, *dataset.tags, dataset.organization or ""]
    return " ".join(parts).lower()


def _score(dataset: Dataset, words: list[str]) -> int:
    title = dataset.title.lower()
    text = _text_of(dataset)
    return sum(text.count(w) + 2 * title.count(w) for w in words)


def parse_sort(text: str) -> list[tuple[str, bool]]:
    """(field, descending) pairs of a CKAN sort (`metadata_modified desc, name asc`)."""
    keys = []
    for part in (p.strip() for p in (text or DEFAULT_SORT).split(",")):
        if not part:
            continue
        name, _, direction = part.partition(" ")
        direction = direction.strip().lower() or "asc"
        if name not in SORT_FIELDS or direction not in ("asc", "desc"):
            known = ", ".join(sorted(SORT_FIELDS))
            raise InvalidFields({"sort": [f"{part!r}: sort by one of {known}, asc or desc"]})
        keys.append((name, direction == "desc"))
    return keys


def _sort_value(dataset: Dataset, name: str, scores: dict[str, int]) -> str | int:
    if name == "score":
        return scores[dataset.id]
    if name == "name":
        return dataset.name
    if name == "title_string":
        return dataset.title.lower()
    if name == "metadata_created":
        return dataset.created
    return dataset.modified


def search(datasets: Sequence[Dataset], query: SearchQuery) -> SearchResult:
    """The page of datasets `query` asks for, with its total and facet counts."""
    for name in query.facet_fields:
        if name not in FACET_FIELDS:
            known = ", ".join(sorted(FACET_FIELDS))
            raise InvalidFields({"facet.field": [f"cannot facet on {name}; fields: {known}"]})
    sort_keys = parse_sort(query.sort)
    filters, words = _terms(query.q, "q")
    more, ignored = _terms(query.fq, "fq")
    if ignored:
        raise InvalidFields({"fq": [f"{ignored[0]!r}: fq takes field:value terms"]})
    filters += more
    found = [
        d
        for d in datasets
        if all(value in values_of(d, name) for name, value in filters)
        and all(w in _text_of(d) for w in words)
    ]
    scores = {d.id: _score(d, words) for d in found}
    for name, descending in reversed(sort_keys):  # stable sorts, least significant first
        found.sort(key=lambda d, n=name: _sort_value(d, n, scores), reverse=descending)  # type: ignore[misc]
    facets: dict[str, dict[str, int]] = {}
    for name in query.facet_fields:
        counts = Counter(v for d in found for v in dict.fromkeys(values_of(d, name)))
        facets[name] = dict(counts.most_common(query.facet_limit))
    page = found[query.start : query.start + query.rows]
    return SearchResult(len(found), page, facets, query.sort or DEFAULT_SORT)
