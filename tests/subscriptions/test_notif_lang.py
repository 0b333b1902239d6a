"""`lang` of a subscription (clause 5.2.12) is a language filter: RFC 5646 language tags (with
`*` and `;q=` weights as the `lang` parameter of queries takes them, clause 4.15); anything
else is a 400 BadRequestData at creation and update (outside tester notif-7)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

S = "/ngsi-ld/v1/subscriptions"


def subscription(lang: object) -> dict[str, object]:
    return {
        "type": "Subscription",
        "entities": [{"type": "V"}],
        "lang": lang,
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/v"}},
    }


@pytest.mark.parametrize("lang", ["!!", "", "en fr", "en-", "toolongtag", "en;q=x", "en,", "*-x"])
def test_a_lang_that_is_no_language_filter_is_refused(client: TestClient, lang: str) -> None:
    answer = client.post(S, json=subscription(lang))
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"].endswith("BadRequestData")
    assert "lang" in answer.json()["detail"]


@pytest.mark.parametrize("lang", ["en", "ko-KR", "zh-Hant-TW", "*", "ko,en;q=0.5", "en;q=1.0, *"])
def test_a_language_filter_is_taken_and_shown_back(client: TestClient, lang: str) -> None:
    answer = client.post(S, json=subscription(lang))
    assert answer.status_code == 201, answer.text
    assert client.get(answer.headers["location"]).json()["lang"] == lang


def test_an_update_to_a_bad_lang_is_refused(client: TestClient) -> None:
    location = client.post(S, json=subscription("en")).headers["location"]
    assert client.patch(location, json={"lang": "!!"}).status_code == 400
    assert client.get(location).json()["lang"] == "en"
