"""A device's number is written as devices write numbers: ASCII digits, an optional sign,
fraction and exponent (an Integer: digits only). Python's own leniency (`1_000`, `٣٤`) is no
number syntax of any device protocol."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from dalgu.devices.mapping import number_value
from dalgu.devices.traffic import MessageEvent
from dalgu.errors import PayloadError
from dalgu.testbed.conformance import evaluate
from dalgu.testbed.profile import parse_profile

FIRM = {"fiware-service": "firm1"}
TENANT = {"NGSILD-Tenant": "firm1"}
E = "/ngsi-ld/v1/entities"
NOT_NUMBERS = ["1_000", "٣٤", "1 000", "0x1F", "1,5", "NaN", "inf", "", "+", "1e", ".", "e3"]


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_a_text_that_is_no_decimal_number_is_refused(text: str) -> None:
    """docs/testbed.md: "a value that does not fit the attribute's type … is refused"."""
    with pytest.raises(PayloadError):
        number_value(text, "x", integer=False)


@pytest.mark.parametrize("text", ["1e3", "1_0", "10.5", "٣"])
def test_an_integer_is_written_in_digits(text: str) -> None:
    with pytest.raises(PayloadError):
        number_value(text, "c", integer=True)


def test_decimal_numbers_are_read() -> None:
    assert [number_value(t, "x", integer=False) for t in ("15", "-2.5", "+.5", "1e3", " 7 ")] == [
        15,
        -2.5,
        0.5,
        1000.0,
        7,
    ]
    assert number_value("-42", "c", integer=True) == -42
    assert number_value(3.0, "c", integer=True) == 3  # a JSON number


def test_a_device_s_underscored_and_arabic_indic_numbers_are_left_out(client: TestClient) -> None:
    group = {
        "apikey": "k-num",
        "resource": "/iot/d",
        "entity_type": "Counter",
        "attributes": [
            {"object_id": "c", "name": "count", "type": "Integer"},
            {"object_id": "x", "name": "x", "type": "Number"},
        ],
    }
    assert client.post("/iot/services", json={"services": [group]}, headers=FIRM).status_code == 201
    for body in ("x|1_000", "x|٣٤", "c|1_0", "c|1.5"):  # left out, as no number
        sent = client.post("/iot/d?k=k-num&i=ty-1", content=body.encode())
        assert sent.status_code == 200, (body, sent.text)
    assert client.get(f"{E}/urn:ngsi-ld:Counter:ty-1", headers=TENANT).status_code == 404
    assert client.post("/iot/d?k=k-num&i=ty-1", content=b"x|1e3|c|12").status_code == 200
    entity = client.get(f"{E}/urn:ngsi-ld:Counter:ty-1?options=keyValues", headers=TENANT).json()
    assert (entity["x"], entity["count"]) == (1000, 12)


def test_the_types_check_does_not_pass_python_number_syntax() -> None:
    """docs/testbed.md: "types: values parse as their declared type"."""
    profile = parse_profile(
        "name: p\nentity_type: P\npayload: json\ninterval: 1\n"
        "measures:\n  - {object_id: b, name: batteryLevel, type: Number, min: 0, max: 100}\n"
    )
    events = [
        MessageEvent("k", "ps-003", "http", 1.0 + n, 1.1 + n, (({"b": v}, None),))
        for n, v in enumerate(["5_0", "٣٤", "1_0_0", "50"])
    ]
    types = next(c for c in evaluate(profile, "k", events, 0.0, 5.0).checks if c.name == "types")
    assert types.verdict == "fail" and types.figures["problems"] == 3
