"""An alert's words in the reader's language: the categories and sub-categories of Smart Data
Models `Alert` (a fixed list, translated as severities are), and the descriptions Dalgu's own
vehicle safety service writes (`dalgu.safety.alert`: an English sentence chosen by its
`alertType`, then its `alertSubType` in brackets), recognised exactly and said in Korean or
English. Any other value is shown as written.
"""

from __future__ import annotations

from typing import Final

from dalgu.dashboard.messages import Language

Words = dict[Language, str]

#: Smart Data Models `Alert.category`
CATEGORIES: Final[dict[str, Words]] = {
    "traffic": {"ko": "교통", "en": "traffic"},
    "naturalDisaster": {"ko": "자연재해", "en": "natural disaster"},
    "weather": {"ko": "기상", "en": "weather"},
    "environment": {"ko": "환경", "en": "environment"},
    "health": {"ko": "건강", "en": "health"},
    "security": {"ko": "치안", "en": "security"},
    "agriculture": {"ko": "농업", "en": "agriculture"},
}
#: Smart Data Models `Alert.subCategory` (the common ones), and those the safety service writes
SUBCATEGORIES: Final[dict[str, Words]] = {
    "trafficJam": {"ko": "교통 정체", "en": "traffic jam"},
    "carAccident": {"ko": "교통사고", "en": "car accident"},
    "carWrongDirection": {"ko": "역주행", "en": "car in the wrong direction"},
    "carStopped": {"ko": "멈춘 차량", "en": "stopped car"},
    "pothole": {"ko": "도로 파임", "en": "pothole"},
    "roadClosed": {"ko": "도로 통제", "en": "road closed"},
    "roadWorks": {"ko": "도로 공사", "en": "road works"},
    "hazardOnRoad": {"ko": "도로 위 위험물", "en": "hazard on the road"},
    "injuredBiker": {"ko": "자전거 이용자 부상", "en": "injured cyclist"},
    "flood": {"ko": "홍수", "en": "flood"},
    "tsunami": {"ko": "지진해일", "en": "tsunami"},
    "earthquake": {"ko": "지진", "en": "earthquake"},
    "rainfall": {"ko": "강우", "en": "rainfall"},
    "highTemperature": {"ko": "고온", "en": "high temperature"},
    "lowTemperature": {"ko": "저온", "en": "low temperature"},
    "heatWave": {"ko": "폭염", "en": "heat wave"},
    "coldWave": {"ko": "한파", "en": "cold wave"},
    "ice": {"ko": "결빙", "en": "ice"},
    "snow": {"ko": "눈", "en": "snow"},
    "wind": {"ko": "강풍", "en": "wind"},
    "fog": {"ko": "안개", "en": "fog"},
    "tornado": {"ko": "토네이도", "en": "tornado"},
    "tropicalCyclone": {"ko": "태풍", "en": "tropical cyclone"},
    "thunderstorms": {"ko": "뇌우", "en": "thunderstorms"},
    "fireRisk": {"ko": "화재 위험", "en": "fire risk"},
    "airPollution": {"ko": "대기오염", "en": "air pollution"},
    "waterPollution": {"ko": "수질오염", "en": "water pollution"},
    "pollenConcentration": {"ko": "꽃가루 농도", "en": "pollen concentration"},
    "asthmaAttack": {"ko": "천식 발작", "en": "asthma attack"},
    "bumpedPatient": {"ko": "부딪힌 환자", "en": "bumped patient"},
    "fallenPatient": {"ko": "넘어진 환자", "en": "fallen patient"},
    "heartAttack": {"ko": "심장 발작", "en": "heart attack"},
    "suspiciousAction": {"ko": "수상한 행동", "en": "suspicious action"},
    "robbery": {"ko": "강도", "en": "robbery"},
    "assault": {"ko": "폭행", "en": "assault"},
    "civilDisorder": {"ko": "소요", "en": "civil disorder"},
    "buildingFire": {"ko": "건물 화재", "en": "building fire"},
    "forestFire": {"ko": "산불", "en": "forest fire"},
    "driverDrowsiness": {"ko": "운전자 졸음", "en": "driver drowsiness"},
    "lowOxygenSaturation": {"ko": "산소포화도 저하", "en": "low oxygen saturation"},
    "driverIncapacitated": {"ko": "운전 불능", "en": "driver incapacitated"},
}
#: the safety service's descriptions, by `alertType` ("en" is exactly what it writes)
SAFETY_DESCRIPTIONS: Final[dict[str, Words]] = {
    "drowsiness": {
        "ko": "운전자에게 졸음 징후가 보입니다",
        "en": "The driver shows signs of drowsiness",
    },
    "cardiac": {
        "ko": "운전 중인 운전자에게 심장 이상이 생겼습니다",
        "en": "Cardiac event of the driver at the wheel",
    },
    "hypoxaemia": {
        "ko": "운전 중인 운전자의 혈중 산소가 낮습니다",
        "en": "Low blood oxygen of the driver at the wheel",
    },
    "incapacitation": {
        "ko": "차가 움직이는데 운전자가 핸들을 조작하지 않습니다",
        "en": "The driver is not steering while the car moves on",
    },
}
#: the safety service's `alertSubType`s
SAFETY_SUBTYPES: Final[dict[str, Words]] = {
    "drowsy-driving": {"ko": "졸음운전", "en": "drowsy driving"},
    "microsleep": {"ko": "미세수면", "en": "microsleep"},
    "threshold": {"ko": "기준치 초과", "en": "over the threshold"},
    "asystole": {"ko": "심정지", "en": "asystole"},
    "bradycardia": {"ko": "서맥", "en": "bradycardia"},
    "tachycardia": {"ko": "빈맥", "en": "tachycardia"},
    "arrhythmia": {"ko": "부정맥", "en": "arrhythmia"},
    "unconfirmed": {"ko": "확인되지 않음", "en": "unconfirmed"},
    "desaturation": {"ko": "산소포화도 저하", "en": "desaturation"},
    "no-steering-input": {"ko": "조향 없음", "en": "no steering input"},
    "slumped-without-wearable": {
        "ko": "웨어러블 없이 쓰러진 자세",
        "en": "slumped, no wearable",
    },
    "loss-of-control": {"ko": "차량 제어 상실", "en": "loss of control"},
}


def category(value: str, lang: Language) -> str:
    words = CATEGORIES.get(value)
    return words[lang] if words is not None else value


def subcategory(value: str, lang: Language) -> str:
    words = SUBCATEGORIES.get(value)
    return words[lang] if words is not None else value


def description(text: str, alert_type: str, alert_subtype: str, lang: Language) -> str:
    """The safety service's description in `lang` when `text` is exactly one of its
    sentences for `alert_type`, else `text`."""
    words = SAFETY_DESCRIPTIONS.get(alert_type)
    if words is None or text != f"{words['en']} ({alert_subtype})":
        return text
    subtype = SAFETY_SUBTYPES.get(alert_subtype)
    return f"{words[lang]} ({subtype[lang] if subtype is not None else alert_subtype})"
