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
