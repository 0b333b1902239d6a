"""Dataset search as CKAN's `package_search` does it (`q`, `fq`, `sort`, facets), over the
datasets of a tenant in memory: a catalogue has hundreds of datasets, not millions.

Only the part of Solr's syntax CKAN clients and harvesters send is read: `field:value`,
`field:"quoted value"`, `field:*`, a range of times `metadata_modified:[2026-12-01T00:00:00Z
TO *]`, each negated by a leading `-`; terms joined by `OR` form a clause, clauses joined by
spaces or `AND` must all hold (no parentheses). Free words in `q` must each appear in a
dataset's name, title, notes, tags or organization.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dalgu.errors import InvalidFields
from dalgu.opendata.model import Dataset

#: fields that fq (and q) may filter on
FILTER_FIELDS = frozenset(["id", "tags", "organization", "res_format", "license_id", "name"])
TIME_FIELDS = frozenset(["metadata_modified", "metadata_created"])
FACET_FIELDS = frozenset(["tags", "organization", "res_format", "license_id"])
SORT_FIELDS = frozenset(
    ["score", "id", "name", "title_string", "metadata_modified", "metadata_created"]
)
DEFAULT_SORT = "score desc, metadata_modified desc"
RESOURCE_FORMATS = ("NGSI-LD",)  # besides each dataset's download formats

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<op>AND|OR|&&|\|\|)(?=\s|$)
    | (?P<sign>[+-]?)(?P<field>[A-Za-z_]+):
      (?:"(?P<quoted>[^"]*)"|\[(?P<range>[^\]]*)\]|(?P<bare>[^\s"\[\]()]+))
    | (?P<all>\*:\*)
    | (?P<word>[^\s]+)
    )""",
    re.VERBOSE,
)


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


@dataclass(frozen=True, slots=True)
class Term:
    """`field:value` (`*`: any value), or a time range `field:[low TO high]` (None: open)."""

    field: str
    value: str | None = None
    low: datetime | None = None
    high: datetime | None = None
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Filter:
    """Clauses that must all hold, each a disjunction of terms, and free words."""

    clauses: tuple[tuple[Term, ...], ...] = ()
    words: tuple[str, ...] = ()


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
    if name == "id":
        return [dataset.id]
    return [dataset.name]


def _time(text: str, where: str) -> datetime | None:
    if text == "*":
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidFields(
            {where: [f"{text!r} is not a time like 2026-12-01T00:00:00Z"]}
        ) from None
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _term(match: re.Match[str], where: str) -> Term:
    name, negated = match["field"], match["sign"] == "-"
    if name in TIME_FIELDS:
        low_text, _, high_text = (match["range"] or "").partition(" TO ")
        if match["range"] is None or not high_text:
            raise InvalidFields({where: [f"{name} takes a range: {name}:[<time> TO <time>|*]"]})
        low, high = _time(low_text.strip(), where), _time(high_text.strip(), where)
        return Term(name, low=low, high=high, negated=negated)
    if name not in FILTER_FIELDS:
        known = ", ".join(sorted(FILTER_FIELDS | TIME_FIELDS))
        raise InvalidFields({where: [f"cannot filter on {name}; fields: {known}"]})
    if match["range"] is not None:
        raise InvalidFields({where: [f"{name} takes a value, not a range"]})
    value = match["quoted"] if match["quoted"] is not None else match["bare"]
    return Term(name, value=value, negated=negated)


def parse_filter(text: str, where: str) -> Filter:
    """The terms and free words of a `q` or `fq` (`where` names it in errors)."""
    clauses: list[list[Term]] = []
    words: list[str] = []
    joined = False  # the last token was OR: the next term joins the last clause
    position, text = 0, text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match is not None  # every non-space run matches the last branch
        position = match.end()
        if match["op"] in ("OR", "||"):
            if not clauses or joined:
                raise InvalidFields({where: ["OR must stand between two terms"]})
            joined = True
        elif match["op"] or match["all"]:
            continue
        elif match["field"] is not None:
            term = _term(match, where)
            if joined:
                clauses[-1].append(term)
            else:
                clauses.append([term])
            joined = False
        else:
            word = match["word"]
            if word[0] in "-!()[]{}" or word in ("NOT", "TO"):
                raise InvalidFields({where: [f"{word!r}: parentheses and NOT are not supported"]})
            words.append(word.lower())
    if joined:
        raise InvalidFields({where: ["OR must stand between two terms"]})
    return Filter(tuple(tuple(c) for c in clauses), tuple(words))


def _holds(term: Term, dataset: Dataset) -> bool:
    if term.field in TIME_FIELDS:
        text = dataset.modified if term.field == "metadata_modified" else dataset.created
        at = datetime.fromisoformat(text)
        held = (term.low is None or term.low <= at) and (term.high is None or at <= term.high)
    else:
        values = values_of(dataset, term.field)
        held = bool(values) if term.value == "*" else term.value in values
    return held != term.negated


class Catalogue:
    """A tenant's datasets as searches read them, made once per catalogue generation: each
    dataset's searchable text in lower case, and the datasets newest first (the default
    order). A search of 1,000 datasets joined and lowered each one's text twice and sorted
    them all (3-4 ms); with neither words nor another order asked for, it now walks the
    newest-first list."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        self.texts = {d.id: _text_of(d) for d in datasets}
        # stable: datasets modified at the same time stay in the given order, as a sort of
        # `datasets` by `metadata_modified desc` leaves them
        self.newest = sorted(datasets, key=lambda d: d.modified, reverse=True)


def _matches(dataset: Dataset, text: str, found: Filter) -> bool:
    return all(any(_holds(t, dataset) for t in clause) for clause in found.clauses) and all(
        w in text for w in found.words
    )


def _text_of(dataset: Dataset) -> str:
    parts = [dataset.name, dataset.title, dataset.notes, *dataset.tags, dataset.organization or ""]
    return " ".join(parts).lower()


def _score(dataset: Dataset, text: str, words: list[str]) -> int:
    title = dataset.title.lower()
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
    if name == "id":
        return dataset.id
    if name == "metadata_created":
        return dataset.created
    return dataset.modified


def search(datasets: Sequence[Dataset] | Catalogue, query: SearchQuery) -> SearchResult:
    """The page of datasets `query` asks for, with its total and facet counts."""
    catalogue = datasets if isinstance(datasets, Catalogue) else Catalogue(datasets)
    for name in query.facet_fields:
        if name not in FACET_FIELDS:
            known = ", ".join(sorted(FACET_FIELDS))
            raise InvalidFields({"facet.field": [f"cannot facet on {name}; fields: {known}"]})
    sort_keys = parse_sort(query.sort)
    in_q = parse_filter(query.q, "q")
    in_fq = parse_filter(query.fq, "fq")
    if in_fq.words:
        raise InvalidFields({"fq": [f"{in_fq.words[0]!r}: fq takes field:value terms"]})
    wanted = Filter(in_q.clauses + in_fq.clauses, in_q.words)
    words = list(in_q.words)
    if not words:  # every score is 0: ordering by it changes nothing
        sort_keys = [key for key in sort_keys if key[0] != "score"]
    newest_first = sort_keys == [("metadata_modified", True)]
    texts = catalogue.texts
    order = catalogue.newest if newest_first else catalogue.datasets
    if wanted.clauses or wanted.words:
        found = [d for d in order if _matches(d, texts[d.id], wanted)]
    else:
        found = list(order)
    scores = {d.id: _score(d, texts[d.id], words) for d in found} if words else {}
    for name, descending in [] if newest_first else reversed(sort_keys):
        # stable sorts, least significant first
        found.sort(key=lambda d, n=name: _sort_value(d, n, scores), reverse=descending)  # type: ignore[misc]
    facets: dict[str, dict[str, int]] = {}
    for name in query.facet_fields:
        counts = Counter(v for d in found for v in dict.fromkeys(values_of(d, name)))
        facets[name] = dict(counts.most_common(query.facet_limit))
    page = found[query.start : query.start + query.rows]
    return SearchResult(len(found), page, facets, query.sort or DEFAULT_SORT)
