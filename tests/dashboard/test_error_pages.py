"""What a browser gets at a dashboard address that answers an error (an outside test: an entity
deleted after the page loaded, or a dangling Relationship's link, gave bare JSON with no
title, no language, in English on the Korean page, and no way back)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.dashboard.html import parse
from tests.dashboard.test_dashboard import seed

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
MISSING = "/dashboard/entity?id=urn:ngsi-ld:Vehicle:gone"


@pytest.mark.parametrize(
    ("address", "status", "heading"),
    [
        (MISSING + "&lang=ko", 404, "찾을 수 없습니다"),
        (MISSING + "&lang=en", 404, "Not found"),
        ("/dashboard/entity?id=not%20an%20id&lang=en", 400, "Bad address"),
        ("/dashboard?tenant=bad%20name&lang=ko", 400, "잘못된 주소"),
        ("/dashboard?type=not%20a%20type&lang=en", 400, "Bad address"),
    ],
)
def test_a_browser_gets_a_page_in_its_language_with_the_same_status(
    client: TestClient, address: str, status: int, heading: str
) -> None:
    seed(client)
    answer = client.get(address, headers={"Accept": BROWSER})
    assert answer.status_code == status
    assert answer.headers["content-type"].startswith("text/html")
    doc = parse(answer.text)
    lang = "ko" if "lang=ko" in address else "en"
    assert doc.first("html").attrs["lang"] == lang and answer.headers["content-language"] == lang
    assert doc.first("title").text.startswith(heading)  # 2.4.2
    assert doc.by_id("error-heading").text == heading  # type: ignore[union-attr]
    links = {a.text: a.attrs["href"] for a in doc.iter("a")}
    back = links["현황판으로 돌아가기" if lang == "ko" else "Back to the dashboard"]
    assert back.startswith("/dashboard?") and "tenant=bad" not in back
    other = "en" if lang == "ko" else "ko"
    switch = next(a for a in doc.iter("a") if a.attrs.get("hreflang") == other)
    assert f"lang={other}" in switch.attrs["href"]
    assert client.get(switch.attrs["href"], headers={"Accept": BROWSER}).status_code == status


def test_the_servers_english_words_are_marked_on_the_korean_page(client: TestClient) -> None:
    answer = client.get(MISSING + "&lang=ko", headers={"Accept": BROWSER})
    detail = [s for s in parse(answer.text).iter("span") if "gone" in s.text]
    assert detail and detail[0].attrs["lang"] == "en"


def test_other_clients_still_get_problem_details(client: TestClient) -> None:
    for accept in ("application/json", "*/*"):
        answer = client.get(MISSING, headers={"Accept": accept})
        assert answer.status_code == 404
        assert answer.json()["type"].endswith("ResourceNotFound")
