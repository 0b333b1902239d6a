"""An alert's words in the page's language (WCAG 3.1.2, an outside test: the safety service's
English sentences and camelCase categories were read on the Korean page by a Korean voice):
the categories of Smart Data Models and the safety service's own descriptions are translated,
and other text from the data in the other language is marked with `lang`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from dalgu.dashboard import alertwords
from dalgu.dashboard.messages import written_in
from dalgu.safety.alert import DESCRIPTIONS, SUBCATEGORIES, Alert
from tests.dashboard.html import Node
from tests.dashboard.test_dashboard import alert, create, page


def _cells(doc: Node) -> list[Node]:
    box = doc.by_id("alerts")
    assert box is not None
    row = next(r for r in box.iter("tr") if "data-key" in r.attrs)
    return [c for c in row.iter() if c.tag in ("th", "td")]


def _safety_alert() -> dict[str, object]:
    found = Alert("car-7", None, "cardiac", "tachycardia", "critical", 0.9, 10.0, 12.0, {}, None)
    return found.to_entity(datetime(2026, 12, 7, 11, 0, tzinfo=UTC), "urn:ngsi-ld:Vehicle:7", None)


def test_the_safety_services_alert_reads_in_korean_on_the_korean_page(client: TestClient) -> None:
    create(client, _safety_alert())
    cells = _cells(page(client, "?lang=ko"))
    assert cells[2].text == "건강 / 심장 발작"
    assert cells[3].text == "운전 중인 운전자에게 심장 이상이 생겼습니다 (빈맥)"
    assert not any("lang" in c.attrs for c in cells)  # all in the page's language
    english = _cells(page(client, "?lang=en"))
    assert english[2].text == "health / heart attack"
    assert english[3].text == "Cardiac event of the driver at the wheel (tachycardia)"


def test_text_in_the_other_language_is_marked_with_it(client: TestClient) -> None:
    create(client, alert(1, "2026-12-05T08:00:00Z", "high"))  # "Cardiac event 1", not the service's
    cells = _cells(page(client, "?lang=ko"))
    assert cells[3].text == "Cardiac event 1" and cells[3].attrs["lang"] == "en"
    assert "lang" not in cells[2].attrs  # 건강 / 심장 발작
    cells = _cells(page(client, "?lang=en"))
    assert "lang" not in cells[3].attrs


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("수성구 교차로 추돌 사고", "ko"),
        ("Flash flood in Buk-gu", "en"),
        ("서문시장 Seomun Market", None),
        ("35.1", None),
    ],
)
def test_the_language_of_a_text_is_told_by_its_script(written: str, expected: str | None) -> None:
    assert written_in(written) == expected


def test_every_sentence_and_category_of_the_safety_service_is_translated() -> None:
    for kind, sentence in DESCRIPTIONS.items():
        assert alertwords.SAFETY_DESCRIPTIONS[kind]["en"] == sentence
    for category, sub in SUBCATEGORIES.values():
        assert category in alertwords.CATEGORIES and sub in alertwords.SUBCATEGORIES
