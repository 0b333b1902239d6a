"""Entity type selection (clause 4.17): text in, a `TypeExpr` or a positioned error out."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dalgu.errors import BadRequestData, DalguError
from dalgu.query.ast import TypeAnd, TypeExpr, TypeName, TypeOr
from dalgu.query.q import MAX_DEPTH, MAX_TOKENS
from dalgu.query.typesel import parse_type_selection


def t(name: str) -> TypeName:
    return TypeName(name)


PARSED = [
    ("Building", t("Building")),
    ("Building|House", TypeOr((t("Building"), t("House")))),
    ("Building,House", TypeOr((t("Building"), t("House")))),
    ("(Home;Vehicle)", TypeAnd((t("Home"), t("Vehicle")))),
    ("(Home;Vehicle)|Motorhome", TypeOr((TypeAnd((t("Home"), t("Vehicle"))), t("Motorhome")))),
    ("(Home;Vehicle),Motorhome", TypeOr((TypeAnd((t("Home"), t("Vehicle"))), t("Motorhome")))),
    ("Home;Vehicle", TypeAnd((t("Home"), t("Vehicle")))),
    ("A;B|C", TypeOr((TypeAnd((t("A"), t("B"))), t("C")))),
    ("A|B;C", TypeOr((t("A"), TypeAnd((t("B"), t("C")))))),
    ("(A|B);C", TypeAnd((TypeOr((t("A"), t("B"))), t("C")))),
    ("A,B|C", TypeOr((t("A"), t("B"), t("C")))),
    ("A|(B|(C,D))", TypeOr((t("A"), t("B"), t("C"), t("D")))),
    ("((A;B);C)", TypeAnd((t("A"), t("B"), t("C")))),
    ("((A))", t("A")),
    ("https://example.org/Car", t("https://example.org/Car")),
    (
        "https://example.org/ns#Car|ngsi-ld:Device",
        TypeOr((t("https://example.org/ns#Car"), t("ngsi-ld:Device"))),
    ),
    ("urn:x:Type", t("urn:x:Type")),
    ("Air-Quality_Observed2", t("Air-Quality_Observed2")),
    ("주차장", t("주차장")),
    (" A , B ", TypeOr((t("A"), t("B")))),
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[p for p, _ in PARSED])
def test_type_selection_parses_to_its_tree(text: str, expected: TypeExpr) -> None:
    assert parse_type_selection(text) == expected


BAD = [
    ("", 0, "expected an entity type or '('"),
    ("   ", 3, "expected an entity type or '('"),
    ("A,", 2, "expected an entity type or '('"),
    (",A", 0, "unexpected ','"),
    ("A,,B", 2, "unexpected ','"),
    ("A;|B", 2, "unexpected '|'"),
    ("(A", 2, "expected ';', '|', ',' or ')'"),
    ("A)", 1, "unexpected ')'"),
    ("()", 1, "unexpected ')'"),
    ("A B", 2, "unexpected 'B'"),
    ('A"', 1, "unexpected '\"'"),
    ("A=B", 1, "unexpected '='"),
    ("(" * (MAX_DEPTH + 1) + "A" + ")" * (MAX_DEPTH + 1), 0, "nested deeper"),
]


@pytest.mark.parametrize(("text", "position", "message"), BAD, ids=[b[0][:20] for b in BAD])
def test_invalid_type_selection_is_bad_request_data_at_the_offending_position(
    text: str, position: int, message: str
) -> None:
    with pytest.raises(BadRequestData) as caught:
        parse_type_selection(text)
    assert caught.value.detail.startswith("type: ")
    assert f"at position {position}" in caught.value.detail
    assert message in caught.value.detail


def test_more_types_than_the_token_limit_are_refused() -> None:
    with pytest.raises(BadRequestData, match=f"more than {MAX_TOKENS} tokens"):
        parse_type_selection(",".join(["A"] * MAX_TOKENS))


@given(st.text(max_size=200))
@settings(max_examples=400, deadline=None)
def test_any_text_yields_a_tree_or_a_dalgu_error(text: str) -> None:
    with contextlib.suppress(DalguError):
        parse_type_selection(text)


@given(st.text(alphabet="AB:/#,;|() ", max_size=60))
@settings(max_examples=1000, deadline=None)
def test_text_made_of_type_characters_yields_a_tree_or_a_dalgu_error(text: str) -> None:
    with contextlib.suppress(DalguError):
        parse_type_selection(text)
