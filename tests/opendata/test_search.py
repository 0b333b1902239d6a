"""package_search's language over datasets in memory: q, fq, sort and facets."""

from __future__ import annotations

import time

import pytest

from dalgu.errors import InvalidFields
from dalgu.opendata.model import Dataset, Policy, Publication
from dalgu.opendata.search import (
    MAX_QUERY_LENGTH,
    MAX_TERMS,
    MAX_TIME_TERMS,
    MAX_WORDS,
    Catalogue,
    SearchQuery,
    parse_sort,
    search,
)


def _dataset(name: str, tags: tuple[str, ...], org: str | None, modified: str) -> Dataset:
    return Dataset(
        id=name,
        name=name,
        title=name.replace("-", " ").title(),
        publication=Publication("T", ("a",)),
        policy=Policy(),
        tags=tags,
        organization=org,
        modified=modified,
        created=modified,
    )


DATASETS = [
    _dataset("bus-stops", ("mobility", "bus"), "transit", "2026-12-01T00:00:00"),
    _dataset("air-quality", ("air",), "environment", "2026-12-03T00:00:00"),
    _dataset("bus-speeds", ("mobility", "bus"), "transit", "2026-12-02T00:00:00"),
]


def _names(query: SearchQuery) -> list[str]:
    return [d.name for d in search(DATASETS, query).datasets]


def test_fq_terms_all_hold_quoted_or_not() -> None:
    assert _names(SearchQuery(fq='tags:bus AND organization:"transit"', sort="name asc")) == [
        "bus-speeds",
        "bus-stops",
    ]
    assert _names(SearchQuery(fq="+tags:air")) == ["air-quality"]


def test_free_words_of_q_must_all_appear() -> None:
    assert _names(SearchQuery(q="bus speeds")) == ["bus-speeds"]
    assert _names(SearchQuery(q="*:*", sort="metadata_modified desc")) == [
        "air-quality",
        "bus-speeds",
        "bus-stops",
    ]


def test_facets_count_the_matching_datasets() -> None:
    result = search(DATASETS, SearchQuery(fq="tags:mobility", facet_fields=("organization",)))
    assert result.count == 2
    assert result.facets == {"organization": {"transit": 2}}


@pytest.mark.parametrize(
    "query",
    [
        SearchQuery(fq="colour:red"),
        SearchQuery(fq="(tags:a OR tags:b)"),
        SearchQuery(fq="tags:a OR"),
        SearchQuery(fq="metadata_modified:2026-12-01"),
        SearchQuery(fq="metadata_modified:[NOW-1DAY TO *]"),
        SearchQuery(fq="name:[a TO b]"),
        SearchQuery(sort="name sideways"),
        SearchQuery(facet_fields=("notes",)),
        SearchQuery(fq="name:air*"),
        SearchQuery(fq="tags:a?r"),
        SearchQuery(q="wea*"),
        SearchQuery(q='"traffic flow'),
        SearchQuery(q='"traffic flow"^2'),
        SearchQuery(q="traffic^2"),
        SearchQuery(q="traffic~1"),
        SearchQuery(q="tags:(air OR bus)"),
        SearchQuery(q="tags:air^2"),
        SearchQuery(q='-"traffic flow"'),
        SearchQuery(q='""'),
        SearchQuery(fq='"traffic flow"'),
        SearchQuery(fq="tags:a\\:b"),
    ],
)
def test_what_the_search_cannot_read_is_a_validation_error(query: SearchQuery) -> None:
    with pytest.raises(InvalidFields):
        search(DATASETS, query)


def test_sort_reads_several_keys() -> None:
    assert parse_sort("metadata_modified desc, name asc") == [
        ("metadata_modified", True),
        ("name", False),
    ]


def test_or_joins_terms_into_one_clause_and_minus_negates() -> None:
    assert _names(SearchQuery(fq="tags:air OR tags:bus", sort="name asc")) == [
        "air-quality",
        "bus-speeds",
        "bus-stops",
    ]
    assert _names(SearchQuery(fq="tags:air OR tags:bus -name:bus-stops", sort="name asc")) == [
        "air-quality",
        "bus-speeds",
    ]
    assert _names(SearchQuery(fq="-organization:transit")) == ["air-quality"]


def test_a_time_range_keeps_datasets_modified_in_it_as_harvesters_ask() -> None:
    since = SearchQuery(fq="metadata_modified:[2026-12-02T00:00:00.000000Z TO *]", sort="id asc")
    assert _names(since) == ["air-quality", "bus-speeds"]
    until = SearchQuery(fq="metadata_created:[* TO 2026-12-01T12:00:00Z]")
    assert _names(until) == ["bus-stops"]


def test_a_kept_catalogue_orders_as_the_sorts_say_ties_included() -> None:
    """Newest first (the default, without words), ties in the catalogue's order; with words
    the score first, then newest. The same from a kept `Catalogue` as from a list."""
    same = "2026-12-02T00:00:00"
    datasets = [
        _dataset("c-bus", ("bus",), None, same),
        _dataset("a-bus-bus", ("bus",), None, "2026-12-01T00:00:00"),
        _dataset("b-air", ("air",), None, same),
        _dataset("d-bus", ("bus",), None, "2026-12-03T00:00:00"),
    ]
    catalogue = Catalogue(datasets)
    for source in (datasets, catalogue):
        newest = [d.name for d in search(source, SearchQuery(rows=10)).datasets]
        assert newest == ["d-bus", "c-bus", "b-air", "a-bus-bus"]
        by_score = [d.name for d in search(source, SearchQuery(q="bus", rows=10)).datasets]
        assert by_score == ["a-bus-bus", "d-bus", "c-bus"]  # a-bus-bus says "bus" most
        tagged = search(source, SearchQuery(fq="tags:bus", sort="name asc", rows=2))
        assert (tagged.count, [d.name for d in tagged.datasets]) == (3, ["a-bus-bus", "c-bus"])


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("fq", " ".join(f"-name:n{i}" for i in range(MAX_TERMS + 1))),
        ("q", " OR ".join(f"name:n{i}" for i in range(MAX_TERMS + 1))),
        ("fq", "name:" + "x" * MAX_QUERY_LENGTH),
        ("q", " ".join(["word"] * (MAX_WORDS + 1))),
        ("fq", " ".join(["metadata_modified:[2026-01-01T00:00:00Z TO *]"] * (MAX_TIME_TERMS + 1))),
    ],
)
def test_a_query_past_the_caps_is_refused_naming_it(where: str, text: str) -> None:
    with pytest.raises(InvalidFields) as raised:
        search(DATASETS, SearchQuery(**{where: text}))
    assert list(raised.value.fields) == [where]
    assert "Search Query is invalid" in raised.value.fields[where][0]


def test_the_largest_query_allowed_still_matches_as_its_terms_say() -> None:
    fq = " ".join(f"-name:n{i}" for i in range(MAX_TERMS - 1)) + " -name:bus-stops"
    assert _names(SearchQuery(fq=fq, sort="name asc")) == ["air-quality", "bus-speeds"]


def test_the_largest_query_allowed_over_a_thousand_datasets_takes_under_a_second() -> None:
    many = [
        _dataset(f"d-{i}", ("air", f"t{i}"), "org", f"2026-12-01T00:00:{i % 60:02d}")
        for i in range(1000)
    ]
    catalogue = Catalogue(many)
    times = ["metadata_modified:[2020-01-01T00:00:00Z TO *] OR name:x"] * (MAX_TIME_TERMS // 2)
    values = [f"-name:n{i}" for i in range(MAX_TERMS - MAX_TIME_TERMS)]
    query = SearchQuery(
        q=" ".join(["d"] * MAX_WORDS), fq=" ".join(times + values), facet_fields=("tags",)
    )
    started = time.perf_counter()
    assert search(catalogue, query).count == 1000
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("fq", ["AND AND", "&&"])
def test_operators_without_terms_are_refused(fq: str) -> None:
    with pytest.raises(InvalidFields):
        search(DATASETS, SearchQuery(fq=fq))


def test_everything_and_everything_matches_every_dataset() -> None:
    assert len(_names(SearchQuery(q="*:* AND *:*"))) == 3
    assert len(_names(SearchQuery(q="*"))) == 3


def test_a_star_in_quotes_is_a_character_not_a_wildcard() -> None:
    assert _names(SearchQuery(fq='name:"air*"')) == []


@pytest.mark.parametrize(
    "fq", ["+dataset_type:dataset", "capacity:public", "+state:active", "dataset_type:*"]
)
def test_what_every_ckan_package_is_matches_every_dataset(fq: str) -> None:
    assert len(_names(SearchQuery(fq=fq))) == len(DATASETS)


@pytest.mark.parametrize("fq", ["dataset_type:harvest", "capacity:private", "state:deleted"])
def test_what_no_dalgu_dataset_is_matches_none(fq: str) -> None:
    assert _names(SearchQuery(fq=fq)) == []


def test_a_facet_on_groups_is_empty_as_in_a_ckan_without_groups() -> None:
    facets = ("organization", "groups", "tags", "res_format", "license_id")
    result = search(DATASETS, SearchQuery(facet_fields=facets))
    assert result.facets["groups"] == {}
    assert result.facets["organization"] == {"transit": 2, "environment": 1}


PHRASES = [
    _dataset("traffic-flow-jung", ("traffic",), "transit", "2026-12-01T00:00:00"),
    _dataset("flow-of-traffic", ("traffic",), "transit", "2026-12-02T00:00:00"),
    _dataset("air-quality-2", ("air",), "environment", "2026-12-03T00:00:00"),
]


@pytest.mark.parametrize(
    ("q", "names"),
    [
        ('"traffic flow"', ["traffic-flow-jung"]),  # its words in that order
        ('"Traffic  Flow"', ["traffic-flow-jung"]),  # any case and spacing
        ('"traffic"', ["flow-of-traffic", "traffic-flow-jung"]),  # one word: as the word
        ('+"traffic flow" transit', ["traffic-flow-jung"]),
        ("+traffic", ["flow-of-traffic", "traffic-flow-jung"]),
        ('"flow traffic"', []),
    ],
)
def test_a_quoted_phrase_in_q_matches_its_words_in_order(q: str, names: list[str]) -> None:
    """CKAN hands `q` to Solr, where (edismax as dismax) "quotes can be used to group phrases,
    and +/- can be used to denote mandatory and optional clauses" (Solr Reference Guide,
    DisMax Query Parser): `"traffic flow"` is a phrase, not the words `"traffic` and `flow"`,
    which no dataset says, so that the search matched nothing, with no error. docs/opendata.md:
    Solr syntax Dalgu does not read is "a 409 Validation Error ..., never a search that
    silently matches nothing"."""
    found = search(PHRASES, SearchQuery(q=q, sort="name asc"))
    assert [d.name for d in found.datasets] == names


def test_a_phrase_scores_the_datasets_that_say_it_more_first() -> None:
    datasets = [
        _dataset("traffic-flow", ("traffic",), None, "2026-12-03T00:00:00"),
        _dataset("traffic-flow-traffic-flow", ("traffic",), None, "2026-12-01T00:00:00"),
    ]
    found = search(datasets, SearchQuery(q='"traffic flow"'))
    assert [d.name for d in found.datasets] == ["traffic-flow-traffic-flow", "traffic-flow"]


@pytest.mark.parametrize("q", ["bus speeds &", "& bus , speeds", "bus / speeds"])
def test_punctuation_standing_alone_in_q_is_no_word(q: str) -> None:
    """As Solr's tokenizer drops it: `q=PM2.5 &` found fewer datasets than `q=PM2.5`."""
    assert _names(SearchQuery(q=q)) == ["bus-speeds"]
