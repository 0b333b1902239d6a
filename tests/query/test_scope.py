"""scopeQ (clause 4.19) and scope values (clause 4.18): parsing, validation and matching."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dalgu.errors import BadRequestData, DalguError
from dalgu.query.ast import ScopeAnd, ScopeExpr, ScopeOr, ScopePattern
from dalgu.query.q import MAX_DEPTH
from dalgu.query.scope import (
    parse_scope_query,
    scope_matches,
    scope_pattern_regex,
    validate_scope,
)

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def p(*segments: str) -> ScopePattern:
    return ScopePattern(segments)


PARSED = [
    ("/Madrid", p("Madrid")),
    ("/Madrid/Gardens/#", p("Madrid", "Gardens", "#")),
    ("/Madrid/+/ParqueNorte", p("Madrid", "+", "ParqueNorte")),
    ("(/Madrid/Districts;/CompanyA)", ScopeAnd((p("Madrid", "Districts"), p("CompanyA")))),
    (
        "(/Madrid/Districts;/CompanyA)|/CompanyB",
        ScopeOr((ScopeAnd((p("Madrid", "Districts"), p("CompanyA"))), p("CompanyB"))),
    ),
    (
        "(/Madrid/Districts;/CompanyA),/CompanyB",
        ScopeOr((ScopeAnd((p("Madrid", "Districts"), p("CompanyA"))), p("CompanyB"))),
    ),
    (
        "(/Madrid/Districts;/CompanyA)|CompanyB",
        ScopeOr((ScopeAnd((p("Madrid", "Districts"), p("CompanyA"))), p("CompanyB"))),
    ),
    ("/#", p("#")),
    ("/+", p("+")),
    ("/+/#", p("+", "#")),
    ("/a/+/+/b", p("a", "+", "+", "b")),
    ("/Daegu/Suseong-gu", p("Daegu", "Suseong-gu")),
    ("/Floor/3", p("Floor", "3")),
    ("/대구/중구", p("대구", "중구")),
    ("/a;/b|/c", ScopeOr((ScopeAnd((p("a"), p("b"))), p("c")))),
    ("/a|/b,/c", ScopeOr((p("a"), p("b"), p("c")))),
    ("((/a;/b);/c)", ScopeAnd((p("a"), p("b"), p("c")))),
    ("/a|(/b|/c)", ScopeOr((p("a"), p("b"), p("c")))),
    (" /a ; /b ", ScopeAnd((p("a"), p("b")))),
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[t for t, _ in PARSED])
def test_scope_query_parses_to_its_tree(text: str, expected: ScopeExpr) -> None:
    assert parse_scope_query(text) == expected


BAD = [
    ("", 0, "expected a scope"),
    ("/", 0, "unexpected '/'"),
    ("//a", 0, "unexpected '/'"),
    ("/a/", 2, "unexpected '/'"),
    ("/a//b", 2, "unexpected '/'"),
    ("/a/#/b", 4, "unexpected '/b'"),
    ("/#/a", 2, "unexpected '/a'"),
    ("/a/b#", 4, "unexpected '#'"),
    ("/a/b+", 4, "unexpected '+'"),
    ("/a/-b", 2, "unexpected '/'"),
    ("/a b", 3, "unexpected 'b'"),
    ("/a;", 3, "expected a scope"),
    ("/a,,/b", 3, "unexpected ','"),
    ("(/a", 3, "expected ';', '|', ',' or ')'"),
    ("/a)", 2, "unexpected ')'"),
    ("/a.b", 2, "unexpected '.'"),
    ("(" * (MAX_DEPTH + 1) + "/a" + ")" * (MAX_DEPTH + 1), 0, "nested deeper"),
]


@pytest.mark.parametrize(("text", "position", "message"), BAD, ids=[b[0][:20] for b in BAD])
def test_invalid_scope_query_is_bad_request_data_at_the_offending_position(
    text: str, position: int, message: str
) -> None:
    with pytest.raises(BadRequestData) as caught:
        parse_scope_query(text)
    assert caught.value.detail.startswith("scopeQ: ")
    assert f"at position {position}" in caught.value.detail
    assert message in caught.value.detail


@pytest.mark.parametrize(
    ("scope", "stored"),
    [
        ("/Madrid", "/Madrid"),
        ("/Madrid/Gardens/ParqueNorte", "/Madrid/Gardens/ParqueNorte"),
        ("Madrid", "/Madrid"),
        ("Madrid/Gardens", "/Madrid/Gardens"),
        ("/Daegu/Suseong-gu/Beomeo", "/Daegu/Suseong-gu/Beomeo"),
        ("/Company_1/Unit2", "/Company_1/Unit2"),
        ("/대구", "/대구"),
    ],
)
def test_valid_scope_is_returned_in_its_slash_form(scope: str, stored: str) -> None:
    assert validate_scope(scope) == stored


@pytest.mark.parametrize(
    "scope",
    [
        "",
        "/",
        "//a",
        "/a/",
        "/a//b",
        "/a b",
        " /a",
        "/a/+",
        "/a/#",
        "/#",
        "/-a",
        "/a.b",
        "/a\n",
        "urn:ngsi-ld:null",
        "/" + "a" * 1024,
    ],
)
def test_invalid_scope_value_is_refused(scope: str) -> None:
    with pytest.raises(BadRequestData, match="scope: "):
        validate_scope(scope)


@pytest.mark.parametrize("scope", [None, 7, ["/a"]])
def test_scope_value_that_is_not_a_string_is_refused(scope: Any) -> None:
    with pytest.raises(BadRequestData):
        validate_scope(scope)


MATCHES = [
    ("/Madrid", ["/Madrid"], True),
    ("/Madrid", ["/Madrid/Gardens"], False),
    ("/Madrid", ["/Madri"], False),
    ("/Madrid/Gardens/#", ["/Madrid/Gardens"], True),
    ("/Madrid/Gardens/#", ["/Madrid/Gardens/ParqueNorte/Parterre1"], True),
    ("/Madrid/Gardens/#", ["/Madrid/GardensX"], False),
    ("/Madrid/Gardens/#", ["/Madrid"], False),
    ("/Madrid/+/ParqueNorte", ["/Madrid/Sights/ParqueNorte"], True),
    ("/Madrid/+/ParqueNorte", ["/Madrid/ParqueNorte"], False),
    ("/Madrid/+/ParqueNorte", ["/Madrid/a/b/ParqueNorte"], False),
    ("/+", ["/a"], True),
    ("/+", ["/a/b"], False),
    ("/+/#", ["/a/b/c"], True),
    ("/#", ["/a"], True),
    ("/#", [], False),
    ("(/Madrid/Districts;/CompanyA)", ["/Madrid/Districts", "/CompanyA"], True),
    ("(/Madrid/Districts;/CompanyA)", ["/Madrid/Districts"], False),
    ("(/Madrid/Districts;/CompanyA)|/CompanyB", ["/CompanyB"], True),
    ("/a|/b", ["/c", "/b"], True),
    ("/a|/b", ["/c"], False),
    ("/a", "/a", True),
    ("/a", ["Madrid"], False),
]


@pytest.mark.parametrize(("query", "scopes", "expected"), MATCHES)
def test_scope_matches(query: str, scopes: list[str] | str, expected: bool) -> None:
    assert scope_matches(parse_scope_query(query), scopes) is expected


@pytest.mark.parametrize(
    ("query", "regex"),
    [
        ("/a/b", "^/a/b$"),
        ("/a/+/c", "^/a/[^/]+/c$"),
        ("/a/#", "^/a(/.*)?$"),
        ("/+/#", "^/[^/]+(/.*)?$"),
        ("/#", "^/.+$"),
        ("/Suseong-gu", "^/Suseong\\-gu$"),
    ],
)
def test_scope_pattern_regex(query: str, regex: str) -> None:
    pattern = parse_scope_query(query)
    assert isinstance(pattern, ScopePattern)
    assert scope_pattern_regex(pattern) == regex


levels = st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,3}", fullmatch=True) | st.sampled_from(
    ["대구", "x"]
)
scopes = st.lists(levels, min_size=1, max_size=4).map(lambda ls: "/" + "/".join(ls))
patterns = st.one_of(
    st.just(p("#")),
    st.tuples(st.lists(levels | st.just("+"), min_size=1, max_size=4), st.booleans()).map(
        lambda t: p(*t[0], *(("#",) if t[1] else ()))
    ),
)
REGEX_CASES: list[tuple[ScopePattern, str]] = [
    (p("a", "+", "#"), "/a/b/c"),
    (p("a", "+", "#"), "/a"),
    (p("Suseong-gu"), "/Suseong-gu"),
    (p("Suseong-gu"), "/Suseong_gu"),
    (p("#"), "/x"),
    (p("a", "#"), "/ab"),
    (p("대구", "+"), "/대구/중구"),
]


@given(patterns, scopes)
@settings(max_examples=800, deadline=None)
def test_regex_and_matching_agree_in_python(pattern: ScopePattern, scope: str) -> None:
    in_python = re.fullmatch(scope_pattern_regex(pattern), scope) is not None
    assert in_python is scope_matches(pattern, [scope])


async def test_regex_and_matching_agree_in_postgresql() -> None:
    try:
        conn = await asyncpg.connect(ADMIN_DSN)
    except OSError:
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    try:
        for pattern, scope in REGEX_CASES:
            in_postgres = await conn.fetchval(
                "SELECT $1::text ~ $2::text", scope, scope_pattern_regex(pattern)
            )
            assert in_postgres is scope_matches(pattern, [scope]), (pattern, scope)
    finally:
        await conn.close()


@given(st.text(max_size=200))
@settings(max_examples=400, deadline=None)
def test_any_text_yields_a_tree_or_a_dalgu_error(text: str) -> None:
    with contextlib.suppress(DalguError):
        parse_scope_query(text)


@given(st.text(alphabet="ab1/+#;|,() -_", max_size=60))
@settings(max_examples=1000, deadline=None)
def test_text_made_of_scope_characters_yields_a_tree_or_a_dalgu_error(text: str) -> None:
    try:
        expr = parse_scope_query(text)
    except DalguError:
        return
    assert scope_matches(expr, ["/a/b"]) in (True, False)


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_text_is_a_scope_value_or_a_dalgu_error(text: str) -> None:
    try:
        stored = validate_scope(text)
    except DalguError:
        return
    assert stored.startswith("/")
