"""The dashboard's words, in Korean and English, and which of the two a reader gets.

Every message has both languages (a test checks it). A reader's language is the one asked for
with `?lang=`, else the first of `Accept-Language` that the dashboard speaks, else Korean: the
city's own language.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from dalgu.languages import ranked_languages

Language = Literal["ko", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("ko", "en")
DEFAULT: Final[Language] = "ko"
#: each language named in itself, for the language switch
NATIVE_NAMES: Final[dict[Language, str]] = {"ko": "한국어", "en": "English"}

MESSAGES: Final[dict[str, dict[Language, str]]] = {
    "title": {"ko": "달구 도시 현황판", "en": "Dalgu city dashboard"},
    "skip": {"ko": "본문으로 건너뛰기", "en": "Skip to the main content"},
    "language": {"ko": "언어", "en": "Language"},
    "links": {"ko": "다른 서비스", "en": "Other services"},
    "api_docs": {"ko": "NGSI-LD API 문서 (영어)", "en": "NGSI-LD API documentation"},
    "open_data": {"ko": "공공데이터 포털 (영어)", "en": "Open data portal"},
    "fhir": {"ko": "의료정보 API (FHIR R4, JSON)", "en": "Medical information API (FHIR R4, JSON)"},
    "health": {"ko": "서버 상태 (JSON)", "en": "Server health (JSON)"},
    "tenant": {"ko": "테넌트", "en": "Tenant"},
    "default_tenant": {"ko": "기본", "en": "default"},
    "updated": {"ko": "기준 시각", "en": "As of"},
    "overview": {"ko": "도시 데이터 현황", "en": "City data at a glance"},
    "overview_caption": {
        "ko": "엔티티 유형별 개수 (유형을 누르면 지도에 표시)",
        "en": "Entities by type (choose a type to show it on the map)",
    },
    "type": {"ko": "유형", "en": "Type"},
    "count": {"ko": "개수", "en": "Count"},
    "attributes": {"ko": "속성", "en": "Attributes"},
    "no_entities": {"ko": "아직 엔티티가 없습니다.", "en": "There are no entities yet."},
    "map": {"ko": "지도", "en": "Map"},
    "map_all": {"ko": "모든 유형", "en": "All types"},
    "map_shows": {"ko": "표시 중", "en": "Showing"},
    "map_filter": {"ko": "지도에 표시할 유형", "en": "Type to show on the map"},
    "map_apply": {"ko": "적용", "en": "Apply"},
    "map_description": {
        "ko": "위치가 있는 엔티티 {shown}개 표시 (전체 {total}개).",
        "en": "{shown} located entities shown (of {total}).",
    },
    "map_capped": {
        "ko": (
            "최대 {limit}개까지 유형별로 고르게 나누어 표시하며, "
            "빠진 수는 범례에 유형별로 적혀 있습니다."
        ),
        "en": (
            "At most {limit} are drawn, shared evenly among the types; "
            "the legend says how many of each type are left out."
        ),
    },
    "map_table_same": {
        "ko": "같은 장소를 아래 표에서 볼 수 있습니다.",
        "en": "The table below lists the same places.",
    },
    "map_table_first": {
        "ko": "아래 표는 그중 처음 {listed}개를 보여 줍니다.",
        "en": "The table below lists the first {listed} of them.",
    },
    "legend_of": {"ko": "{total}개 중 {shown}개", "en": "{shown} of {total}"},
    "map_empty": {"ko": "위치가 있는 엔티티가 없습니다.", "en": "No entity has a location."},
    "legend": {"ko": "범례", "en": "Legend"},
    "places": {"ko": "지도의 장소", "en": "Places on the map"},
    "places_caption": {
        "ko": "지도의 장소 (처음 {shown}개 / 전체 {total}개)",
        "en": "Places on the map (first {shown} of {total})",
    },
    "name": {"ko": "이름", "en": "Name"},
    "latitude": {"ko": "위도", "en": "Latitude"},
    "longitude": {"ko": "경도", "en": "Longitude"},
    "readings": {"ko": "값", "en": "Readings"},
    "alerts": {"ko": "경보", "en": "Alerts"},
    "alerts_caption": {
        "ko": "최근 경보 (최신순, {shown}개 / 전체 {total}개)",
        "en": "Latest alerts (newest first, {shown} of {total})",
    },
    "no_alerts": {"ko": "경보가 없습니다.", "en": "There are no alerts."},
    "issued": {"ko": "발령 시각", "en": "Issued"},
    "severity": {"ko": "심각도", "en": "Severity"},
    "category": {"ko": "분류", "en": "Category"},
    "description": {"ko": "내용", "en": "Description"},
    "source": {"ko": "발생원", "en": "Source"},
    "location": {"ko": "위치", "en": "Location"},
    "live": {"ko": "실시간 갱신", "en": "Live updates"},
    "live_on": {
        "ko": "{seconds}초마다 이 페이지를 갱신합니다.",
        "en": "This page refreshes every {seconds} s.",
    },
    "live_off": {"ko": "갱신이 멈췄습니다.", "en": "Updates are paused."},
    "live_failed": {
        "ko": "{time}부터 갱신하지 못했습니다. {seconds}초마다 다시 시도합니다.",
        "en": "Updates have failed since {time}; retrying every {seconds} s.",
    },
    "pause": {"ko": "자동 갱신 멈춤", "en": "Pause updates"},
    "new_alert": {"ko": "새 경보 1건:", "en": "1 new alert:"},
    "new_alerts": {"ko": "새 경보 {count}건:", "en": "{count} new alerts:"},
    "severity_critical": {"ko": "위급", "en": "critical"},
    "severity_high": {"ko": "높음", "en": "high"},
    "severity_medium": {"ko": "보통", "en": "medium"},
    "severity_low": {"ko": "낮음", "en": "low"},
    "severity_informational": {"ko": "정보", "en": "informational"},
    "wifi": {"ko": "공공 와이파이", "en": "Public Wi-Fi"},
    "wifi_caption": {
        "ko": "와이파이 구역 ({zones}곳, 접속 {clients}명)",
        "en": "Wi-Fi zones ({zones}, {clients} clients connected)",
    },
    "wifi_listed": {
        "ko": "; 장애 구역부터 처음 {shown}곳 / 전체 {total}곳",
        "en": "; the first {shown} of {total}, outages first",
    },
    "zone": {"ko": "구역", "en": "Zone"},
    "status": {"ko": "상태", "en": "Status"},
    "access_points": {"ko": "접속장치 정상/전체", "en": "Access points up"},
    "clients": {"ko": "접속자", "en": "Clients"},
    "load": {"ko": "부하", "en": "Load"},
    "down_units": {"ko": "장애 장치", "en": "Down"},
    "wifi_working": {"ko": "정상", "en": "working"},
    "wifi_workingPartially": {"ko": "일부 장애", "en": "partly down"},
    "wifi_totalFailure": {"ko": "전체 장애", "en": "down"},
    "wifi_noService": {"ko": "장치 없음", "en": "no access points"},
    "wifi_coverage": {"ko": "적용 범위 (GeoJSON)", "en": "Coverage (GeoJSON)"},
    "devices": {"ko": "장치 (IoT 게이트웨이)", "en": "Devices (IoT gateway)"},
    "devices_caption": {
        "ko": (
            "프로비저닝된 장치 ({shown}개 / 전체 {total}개); "
            "메시지는 이 서버 프로세스가 시작된 뒤의 수"
        ),
        "en": (
            "Provisioned devices ({shown} of {total}); messages since this server process started"
        ),
    },
    "device": {"ko": "장치", "en": "Device"},
    "entity": {"ko": "엔티티", "en": "Entity"},
    "transport": {"ko": "전송", "en": "Transport"},
    "any_transport": {"ko": "모두 (HTTP, MQTT, CoAP)", "en": "any (HTTP, MQTT, CoAP)"},
    "stored": {"ko": "저장된 메시지", "en": "Messages stored"},
    "refused": {"ko": "거부된 메시지", "en": "Refused"},
    "last_update": {"ko": "마지막 갱신", "en": "Last update"},
    "footer": {
        "ko": "달구: 오픈소스 스마트시티 IoT 테스트베드와 도시 데이터 허브",
        "en": "Dalgu: an open-source smart-city IoT testbed and city data hub",
    },
    "none": {"ko": "없음", "en": "none"},
    "back": {"ko": "현황판으로 돌아가기", "en": "Back to the dashboard"},
    "entity_id": {"ko": "식별자", "en": "Identifier"},
    "entity_attributes": {"ko": "속성과 값", "en": "Attributes and their values"},
    "kind": {"ko": "종류", "en": "Kind"},
    "value": {"ko": "값", "en": "Value"},
    "observed": {"ko": "관측 시각", "en": "Observed"},
    "entity_document": {
        "ko": "NGSI-LD 문서 (정규화, 코어 @context)",
        "en": "As NGSI-LD (normalized, core @context)",
    },
    "entity_api": {"ko": "API에서 같은 내용:", "en": "The same from the API:"},
    "error_404": {"ko": "찾을 수 없습니다", "en": "Not found"},
    "error_404_text": {
        "ko": "이 주소의 엔티티나 페이지가 없습니다. 지워졌거나, 링크가 없는 대상을 가리킵니다.",
        "en": (
            "There is no entity or page at this address: it was deleted, or the link points "
            "at one that does not exist."
        ),
    },
    "error_400": {"ko": "잘못된 주소", "en": "Bad address"},
    "error_400_text": {
        "ko": "이 주소의 값 가운데 올바르지 않은 것이 있습니다.",
        "en": "One of the values in this address is not valid.",
    },
    "error_other": {"ko": "요청을 처리하지 못했습니다", "en": "The request could not be handled"},
    "error_other_text": {
        "ko": "주소를 확인해 주십시오.",
        "en": "Please check the address.",
    },
    "error_detail": {"ko": "서버의 설명:", "en": "What the server said:"},
}


_HANGUL: Final = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_LATIN: Final = re.compile(r"[A-Za-z]")


def text(key: str, lang: Language, **values: object) -> str:
    """The message `key` in `lang`, its `{placeholders}` filled."""
    message = MESSAGES[key][lang]
    return message.format(**values) if values else message


def choose_language(asked: str | None, accept_language: str | None) -> Language:
    """`?lang=` when it is a language the dashboard speaks, else the first such one in
    `Accept-Language` by its weights (RFC 9110 12.5.4), else Korean."""
    if asked:
        primary = asked.strip().lower().split("-")[0]
        for lang in LANGUAGES:
            if primary == lang:
                return lang
    for tag in ranked_languages(accept_language):
        primary = tag.lower().split("-")[0]
        for lang in LANGUAGES:
            if primary == lang:
                return lang
    return DEFAULT


def written_in(text: str) -> Language | None:
    """The language a text from the data is most likely in, by its script: Korean when it has
    Hangul and no Latin letters, English when it has Latin letters and no Hangul; None when it
    has both or neither (names such as `서문시장 Seomun Market`, numbers)."""
    hangul = _HANGUL.search(text) is not None
    latin = _LATIN.search(text) is not None
    if hangul and not latin:
        return "ko"
    if latin and not hangul:
        return "en"
    return None
