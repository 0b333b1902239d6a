"""`idPattern` (and `q` `~=`) find what Python's `re.search` finds, on entities and their
history, however much of the pattern the store reads as a prefix or a literal first."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import re2  # type: ignore[import-untyped]
from starlette.testclient import TestClient

from tests.ports import free_port
from tests.server import kill_server, start_server

E = "/ngsi-ld/v1/entities"
T = "/ngsi-ld/v1/temporal/entities"
IDS = [
    *(f"urn:ngsi-ld:Car:{n:03d}" for n in range(0, 130, 7)),
    "urn:ngsi-ld:Car:0a1",
    "urn:ngsi-ld:car:005",
    "urn:ngsi-ld:Carriage:005",
    "urn:x:Car:005",
    "urn:ngsi-ld:Car:00:5",
]
PATTERNS = [
    "^urn:ngsi-ld:Car:0",  # a prefix: the id index's range
    r"\Aurn:ngsi-ld:Car:1",
    "^urn:ngsi-ld:Car:0[0-4]",
    "^urn:ngsi-ld:Car:00|^urn:ngsi-ld:Car:01",  # alternatives that begin alike
    "^urn:ngsi-ld:Car:00|urn:x",
    ".*Car:0.*5$",  # a literal inside
    "Car:00",
    ":005",
    "(?i)^URN:NGSI-LD:CAR:00",  # no literal read
    "Car:(0|1)1",
    "[0-9]a",
    "^urn:ngsi-ld:Car:$",  # matches nothing
]


@pytest.fixture
def cars(client: TestClient) -> None:
    for entity_id in IDS:
        body = {
            "id": entity_id,
            "type": "Car",
            "name": f"car {entity_id[-3:]}",
            "speed": {"value": 1, "observedAt": "2026-12-06T00:00:00Z"},
        }
        assert client.post(E, json=body).status_code == 201


@pytest.mark.usefixtures("cars")
@pytest.mark.parametrize("pattern", PATTERNS)
def test_id_pattern_finds_what_re_search_finds(client: TestClient, pattern: str) -> None:
    expected = sorted(i for i in IDS if re.search(pattern, i))
    found = client.get(E, params={"type": "Car", "idPattern": pattern, "limit": "100"})
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == expected
    counted = client.get(
        E, params={"type": "Car", "idPattern": pattern, "count": "true", "limit": "0"}
    )
    assert counted.headers["NGSILD-Results-Count"] == str(len(expected))
    history = client.get(
        T,
        params={
            "type": "Car",
            "idPattern": pattern,
            "timerel": "after",
            "timeAt": "2026-12-05T00:00:00Z",
            "limit": "100",
        },
    )
    assert history.status_code == 200, history.text
    assert [e["id"] for e in history.json()] == expected


@pytest.mark.usefixtures("cars")
@pytest.mark.parametrize("pattern", ["^car 0", "car 0.*5", ":5$", "(?i)CAR 01", "a1$"])
def test_q_pattern_finds_what_re_search_finds(client: TestClient, pattern: str) -> None:
    expected = sorted(i for i in IDS if re.search(pattern, f"car {i[-3:]}"))
    found = client.get(E, params={"type": "Car", "q": f'name~="{pattern}"', "limit": "100"})
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == expected


@pytest.mark.usefixtures("cars")
@pytest.mark.parametrize("pattern", ["^car 0", "car 0.*5", "a1$"])
def test_q_pattern_not_matched_finds_the_others(client: TestClient, pattern: str) -> None:
    expected = sorted(i for i in IDS if not re.search(pattern, f"car {i[-3:]}"))
    found = client.get(E, params={"type": "Car", "q": f'name!~="{pattern}"', "limit": "100"})
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == expected


REDOS = ["urn:ngsi-ld:R:(a+)+$", "^urn:ngsi-ld:R:(a|aa)*b$", "(.*a){20}x"]


def test_a_pattern_that_backtracks_for_ever_is_answered_and_leaves_the_server_free(
    tmp_path: Path,
) -> None:
    """One `idPattern` (or `q` `~=`) with nested repetition, over ids of 30 letters, held the
    embedded store's worker for minutes with Python's `re`, and every request behind it: it
    is now matched in time linear in the text (RE2), whatever the pattern. A real server, so
    that a regression is a client's timeout here, not a test process stuck in the regex."""
    port = free_port()
    server = start_server(tmp_path / "redos.db", port)
    base = f"http://127.0.0.1:{port}{E}"
    try:
        with httpx.Client(timeout=30) as http:
            batch = [
                {"id": f"urn:ngsi-ld:R:{'a' * 30}{n}", "type": "R", "name": f"{'a' * 30}{n}"}
                for n in range(200)
            ]
            created = http.post(
                f"http://127.0.0.1:{port}/ngsi-ld/v1/entityOperations/create", json=batch
            )
            assert created.status_code == 201
            for pattern in REDOS:
                found = http.get(base, params={"type": "R", "idPattern": pattern, "limit": "1000"})
                assert found.status_code == 200, found.text
                assert found.json() == []
                named = http.get(base, params={"type": "R", "q": f'name~="{pattern[14:]}"'})
                assert named.status_code == 200, named.text
            ends = http.get(base, params={"type": "R", "idPattern": "R:a+1$", "limit": "1000"})
            assert len(ends.json()) == 1  # ...a1: the one id ending so
    finally:
        kill_server(server)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [("(a)\\1", "invalid escape sequence"), ("a(?=b)", "invalid perl operator")],
)
def test_a_pattern_with_backreferences_or_lookaround_is_refused_everywhere(
    client: TestClient, pattern: str, reason: str
) -> None:
    """RE2 has neither (nor has POSIX's extended syntax): refused with its reason, on every
    operation that takes a pattern, rather than matched differently by each store."""
    answers = {
        "query": client.get(E, params={"type": "Car", "idPattern": pattern}),
        "q": client.get(E, params={"type": "Car", "q": f'name~="{pattern}"'}),
        "temporal": client.get(
            T,
            params={
                "type": "Car",
                "idPattern": pattern,
                "timerel": "after",
                "timeAt": "2026-12-05T00:00:00Z",
            },
        ),
        "subscription": client.post(
            "/ngsi-ld/v1/subscriptions",
            json={
                "type": "Subscription",
                "entities": [{"type": "Car", "idPattern": pattern}],
                "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}},
            },
        ),
        "registration": client.post(
            "/ngsi-ld/v1/csourceRegistrations",
            json={
                "type": "ContextSourceRegistration",
                "information": [{"entities": [{"type": "Car", "idPattern": pattern}]}],
                "endpoint": "http://127.0.0.1:9",
            },
        ),
    }
    for operation, answer in answers.items():
        assert answer.status_code == 400, (operation, answer.text)
        assert answer.json()["type"].endswith("BadRequestData"), operation
        assert reason in answer.json()["detail"], (operation, answer.json()["detail"])


def test_a_dot_matches_a_newline_on_both_stores(client: TestClient) -> None:
    """Clause 4.9's regular expressions are POSIX's, where `.` matches any character, a
    newline too, as PostgreSQL's engine has it; RE2 (SQLite) did not (a differential test)."""
    for n, text in enumerate(("line\nbreak", "line break", "linebreak")):
        body = {"id": f"urn:ngsi-ld:Note:{n}", "type": "Note", "text": text}
        assert client.post(E, json=body).status_code == 201
    found = client.get(E, params={"type": "Note", "q": 'text~="^line.break$"'})
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Note:0", "urn:ngsi-ld:Note:1"]
    every = client.get(E, params={"type": "Note", "q": 'text~="^.*$"'})
    assert len(every.json()) == 3


@pytest.mark.usefixtures("cars")
def test_a_raw_pattern_may_hold_groups_and_brackets(client: TestClient) -> None:
    """IEEE 1003.2 groups and bracket expressions in an unquoted `~=` pattern (they were a
    400: the pattern ended at the first parenthesis)."""
    expected = sorted(i for i in IDS if re.search(r"^car (00[0-9]|01[4])$", f"car {i[-3:]}"))
    found = client.get(
        E, params={"type": "Car", "q": "name~=^car (00[0-9]|01[4])$", "limit": "100"}
    )
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == expected


POSIX_CLASSES = ["[[:digit:]]a1$", "Car:[[:digit:]]{2}5$", "[[:lower:]]1", "[^[:digit:]]:00"]


@pytest.mark.usefixtures("cars")
@pytest.mark.parametrize("pattern", POSIX_CLASSES)
def test_posix_bracket_classes_followed_by_text_find_their_matches(
    client: TestClient, pattern: str
) -> None:
    """IEEE 1003.2 character classes inside a bracket (`[[:digit:]]`), which clause 4.9's
    patterns are. Python's parser reads `[[:digit:]` as the bracket and `]` as text a match
    must hold, and the embedded store tested that text first: it found nothing (cons-11)."""
    expected = sorted(i for i in IDS if re2.search(pattern, i))
    assert expected  # each pattern finds something
    found = client.get(E, params={"type": "Car", "idPattern": pattern, "limit": "100"})
    assert found.status_code == 200, found.text
    assert [e["id"] for e in found.json()] == expected
    named = sorted(i for i in IDS if re2.search(pattern, f"car {i[-3:]}"))
    for op, want in (("~=", named), ("!~=", sorted(set(IDS) - set(named)))):
        found = client.get(E, params={"type": "Car", "q": f'name{op}"{pattern}"', "limit": "100"})
        assert found.status_code == 200, found.text
        assert [e["id"] for e in found.json()] == want, op


def test_a_pattern_means_the_same_on_both_stores(client: TestClient) -> None:
    """The embedded store matches with RE2, PostgreSQL with its own engine, whose syntax
    differs (`\\b` was a backspace there, `\\z` and named groups errors, `(?i)` folded only
    ASCII): each pattern is written in PostgreSQL's syntax, and what has no equal there is
    refused on both stores (cons-14)."""
    for n, word in enumerate(("Alpha", "Alphabet", "ä", "Ä", "éclair", "Éclair")):
        body = {"id": f"urn:ngsi-ld:Word:w{n}", "type": "Word", "text": word}
        assert client.post(E, json=body).status_code == 201

    def ids(**params: str) -> list[str]:
        found = client.get(E, params={"type": "Word", **params})
        assert found.status_code == 200, found.text
        return sorted(e["id"][-2:] for e in found.json())

    assert ids(idPattern=r"w1\b") == ["w1"]
    assert ids(idPattern=r"w\d\z") == ["w0", "w1", "w2", "w3", "w4", "w5"]
    assert ids(idPattern=r"(?P<n>w3)") == ["w3"]
    assert ids(q=r'text~="Alpha\b"') == ["w0"]
    assert ids(q=r'text~="\QAlpha\E$"') == ["w0"]
    assert ids(q='text~="(?i)^ä$"') == ["w2", "w3"]
    assert ids(q='text~="(?i)^É"') == ["w4", "w5"]
    assert ids(q='text!~="(?i)^É"') == ["w0", "w1", "w2", "w3"]
    history = client.get(
        T,
        params={
            "type": "Word",
            "q": r'text~="Alpha\b"',
            "timerel": "after",
            "timeAt": "2000-01-01T00:00:00Z",
        },
    )
    assert history.status_code == 200, history.text
    for refused in (r"^\p{Lu}", r"a(?i)b", r"[\D]"):
        answer = client.get(E, params={"type": "Word", "idPattern": refused})
        assert answer.status_code == 400, (refused, answer.text)
        assert answer.json()["type"].endswith("BadRequestData")
        assert "not a regular expression Dalgu runs" in answer.json()["detail"]
