"""Validation with fhir.resources, including its cache of elements seen before."""

from __future__ import annotations

import pytest

from dalgu.errors import BadRequestData, InvalidResource
from dalgu.fhir.validation import validate
from tests.fhir.conftest import observation


def test_a_valid_observation_passes_twice() -> None:
    validate("Observation", observation("p1"))
    assert validate("Observation", observation("p1"))["status"] == "final"


def test_an_element_valid_in_one_field_is_checked_again_in_another() -> None:
    ok = observation("p1")
    validate("Observation", ok)
    reused = {**ok, "valueQuantity": ok["code"]}  # a CodeableConcept where a Quantity goes
    with pytest.raises(InvalidResource):
        validate("Observation", reused)


def test_choice_types_are_checked_on_every_resource() -> None:
    ok = observation("p1")
    validate("Observation", ok)
    both = {**ok, "valueString": "high"}  # value[x] twice
    with pytest.raises(InvalidResource):
        validate("Observation", both)


def test_wrong_resource_type_is_a_bad_request() -> None:
    with pytest.raises(BadRequestData):
        validate("Patient", observation("p1"))


CODED = [("Observation", "status"), ("Patient", "gender")]


@pytest.mark.parametrize("code", [{"a": 1}, ["final"], 1, None, True])
@pytest.mark.parametrize(("type_name", "element"), CODED)
def test_a_coded_element_that_is_not_a_string_is_invalid(
    type_name: str, element: str, code: object
) -> None:
    resource = observation("p1") if type_name == "Observation" else {"resourceType": "Patient"}
    with pytest.raises(InvalidResource, match=element):
        validate(type_name, {**resource, element: code})


@pytest.mark.parametrize(
    ("change", "element"),
    [
        ({"active": "on"}, "Patient.active"),
        ({"deceasedBoolean": 1}, "Patient.deceasedBoolean"),
        ({"multipleBirthInteger": "3"}, "Patient.multipleBirthInteger"),
        ({"multipleBirthInteger": 2.0}, "Patient.multipleBirthInteger"),
        ({"birthDate": 19800501}, "birthDate"),
        ({"name": [{"family": "Kim", "given": [7]}]}, "given"),
        ({"contact": [{"gender": "male", "name": {"use": 1}}]}, "use"),
    ],
)
def test_a_primitive_of_the_wrong_json_type_is_invalid(
    change: dict[str, object], element: str
) -> None:
    """R4 json.html: booleans and numbers are JSON booleans and numbers. The body is stored
    as sent, so a lax conversion ("on" -> true) would serve and index a string."""
    with pytest.raises(InvalidResource, match=element):
        validate("Patient", {"resourceType": "Patient", **change})


def test_a_quantity_value_sent_as_a_string_is_invalid() -> None:
    resource = observation("p1")
    resource["valueQuantity"] = {**resource["valueQuantity"], "value": "72.50"}
    with pytest.raises(InvalidResource, match=r"Observation.valueQuantity.value"):
        validate("Observation", resource)


def test_primitives_of_their_own_json_type_pass() -> None:
    resource = {
        "resourceType": "Patient",
        "active": True,
        "multipleBirthInteger": 2,
        "name": [{"family": "Kim", "given": ["Minji"]}],
    }
    assert validate("Patient", resource)["active"] is True


def test_empty_arrays_and_objects_are_left_out() -> None:
    """FHIR JSON has no empty arrays or objects; they are dropped as HAPI's parser does."""
    stored = validate(
        "Patient",
        {"resourceType": "Patient", "name": [], "address": [{}], "photo": [], "active": True},
    )
    assert stored == {"resourceType": "Patient", "active": True}


@pytest.mark.parametrize(
    "div",
    [
        '<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></div>',
        '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="alert(1)">x</p></div>',
        '<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:alert(1)">x</a></div>',
        '<div xmlns="http://www.w3.org/1999/xhtml"><iframe src="http://x"/></div>',
        "<div><p>unclosed</div>",
    ],
)
def test_a_narrative_with_scripts_or_bad_xhtml_is_invalid(div: str) -> None:
    """narrative.html: no scripts, forms, frames, objects or event attributes."""
    resource = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    with pytest.raises(InvalidResource, match=r"text\.div"):
        validate("Patient", resource)


def test_a_plain_narrative_passes() -> None:
    div = (
        '<div xmlns="http://www.w3.org/1999/xhtml"><p>Kim <b>Minji</b></p><a href="#x">x</a></div>'
    )
    resource = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    assert validate("Patient", resource)["text"]["div"] == div


@pytest.mark.parametrize("text", ["\u0000nul", "bell\u0007", "form\u000cfeed"])
def test_a_string_with_a_control_character_is_invalid(text: str) -> None:
    body = {"resourceType": "Patient", "name": [{"family": text}]}
    with pytest.raises(InvalidResource, match=r"Patient\.name\[0\]\.family: control character"):
        validate("Patient", body)


def test_tabs_and_line_breaks_are_taken_in_strings() -> None:
    validate("Patient", {"resourceType": "Patient", "name": [{"text": "Kim\tMinji\r\n"}]})


def test_diagnostics_show_json_values_not_python_reprs() -> None:
    with pytest.raises(BadRequestData) as missing:
        validate("Patient", {"name": [{"family": "Kim"}]})
    assert "None" not in missing.value.detail
    with pytest.raises(InvalidResource) as wrong:
        validate("Patient", {"resourceType": "Patient", "active": "on", "gender": None})
    assert '"on" is not a JSON boolean' in wrong.value.detail
    assert "None" not in wrong.value.detail and "null" in wrong.value.detail
