"""A forwarded query's `q` and type selection are written back as text that parses to the
same tree (`federation.qtext`), linked-entity terms included (clause 4.9)."""

from __future__ import annotations

import pytest

from dalgu.federation.qtext import q_text, type_text
from dalgu.query.q import parse_q
from dalgu.query.typesel import parse_type_selection

QUERIES = [
    'speed>50;brandName!="Mercedes"',
    '((speed>50|rpm>3000);brandName=="Mercedes")',
    "temperature.observedAt>=2017-12-24T12:00:00Z",
    'address[city]=="Berlin"',
    "ref==urn:a:1,urn:a:2",
    "speed==1..9",
    'name~="^a(b|c)\\\\d"',
    "sensor{humidity}==40",
    "sensor{Device:humidity}==40",
    "sensor{Device,Probe:humidity.observedAt}",
    "site{Site:sensor{rawdata[airquality.pm]}}>=2.5|x",
    "sensor{http://example.org/humidity}!=3",
]


@pytest.mark.parametrize("q", QUERIES)
def test_q_text_reads_back_as_the_same_tree(q: str) -> None:
    tree = parse_q(q)
    assert parse_q(q_text(tree)) == tree


@pytest.mark.parametrize("text", ["Building", "Building|House", "(Building;Smart)|House"])
def test_type_text_reads_back_as_the_same_tree(text: str) -> None:
    tree = parse_type_selection(text)
    assert parse_type_selection(type_text(tree)) == tree
