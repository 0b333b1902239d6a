"""A dataset's fields are checked one by one, every problem named by its field."""

from __future__ import annotations

from typing import Any

import pytest

from dalgu.errors import InvalidFields
from dalgu.opendata.validation import dataset_fields, dataset_from_fields

VALID = {"name": "air", "entity_type": "AirQualityObserved", "attributes": ["pm10"]}


def _problems(**fields: Any) -> dict[str, list[str]]:
    with pytest.raises(InvalidFields) as caught:
        dataset_from_fields({**VALID, **fields}, dataset_id="d", created="", modified="")
    return caught.value.fields


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"notes": 3}, "notes"),
        ({"tags": ["a", "", "b" + "x" * 101]}, "tags"),
        ({"entity_q": "pm10>>3"}, "entity_q"),
        ({"aggregate_period": "PT1H"}, "aggregate_methods"),
        ({"aggregate_methods": ["avg"]}, "aggregate_period"),
        ({"aggregate_period": "P0D", "aggregate_methods": ["avg"]}, "aggregate_period"),
        ({"aggregate_period": "PT1H", "aggregate_methods": ["median"]}, "aggregate_methods"),
        (
            {"aggregate_period": "PT1H", "aggregate_methods": ["avg"], "aggregate_since": "today"},
            "aggregate_since",
        ),
        ({"grid_metres": "fine"}, "grid_metres"),
        ({"pseudonymise_ids": "maybe"}, "pseudonymise_ids"),
        ({"context": "file:///etc/passwd"}, "context"),
        ({"extras": [{"key": "a"}]}, "extras"),
        ({"colour": "red"}, "colour"),
        ({"geometry_attribute": "owner", "withheld_attributes": ["owner"]}, "withheld_attributes"),
    ],
)
def test_a_bad_field_is_named(fields: dict[str, Any], field: str) -> None:
    assert field in _problems(**fields)


def test_the_fields_of_a_dataset_make_it_again() -> None:
    fields = {
        **VALID,
        "title": "Air",
        "tags": ["air"],
        "organization": "daegu-city",
        "extras": [{"key": "source", "value": "stations"}],
        "entity_q": "pm10>0",
        "geometry_attribute": "location",
        "withheld_attributes": ["owner"],
        "grid_metres": 250,
        "pseudonymise_ids": True,
        "aggregate_period": "PT1H",
        "aggregate_methods": ["avg", "max"],
        "aggregate_since": "2026-12-01T00:00:00Z",
    }
    dataset = dataset_from_fields(fields, dataset_id="d", created="c", modified="m")
    again = dataset_from_fields(dataset_fields(dataset), dataset_id="d", created="c", modified="m")
    assert again == dataset


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"attributes": ["id", "pm10"]}, "attributes"),
        ({"attributes": ["type"]}, "attributes"),
        ({"attributes": ["pm10", "pm10"]}, "attributes"),
        ({"attributes": ["latitude"], "geometry_attribute": "location"}, "attributes"),
        (
            {"attributes": ["end"], "aggregate_period": "PT1H", "aggregate_methods": ["avg"]},
            "attributes",
        ),
        ({"grid_metres": True}, "grid_metres"),
        ({"attributes": "pm10"}, "attributes"),
        ({"withheld_attributes": "owner"}, "withheld_attributes"),
        ({"tags": "air"}, "tags"),
    ],
)
def test_a_column_name_twice_or_a_wrong_json_type_is_refused_by_field(
    fields: dict[str, Any], field: str
) -> None:
    assert field in _problems(**fields)


def test_an_attribute_may_be_named_as_a_column_the_dataset_does_not_have() -> None:
    dataset = dataset_from_fields(
        {**VALID, "attributes": ["start", "latitude"]}, dataset_id="d", created="", modified=""
    )
    assert dataset.columns == ["id", "start", "latitude"]


def test_an_aggregation_of_more_periods_than_one_temporal_answer_is_accepted() -> None:
    """Downloads read it in parts (tests/opendata/test_aggregated_downloads.py); refusing it
    at publication only looked at one entity, and time made the limit reached anyway."""
    fields = {
        **VALID,
        "aggregate_period": "PT1S",
        "aggregate_methods": ["avg"],
        "aggregate_since": "1970-01-01T00:00:00Z",
    }
    dataset = dataset_from_fields(
        fields, dataset_id="d", created="", modified="2026-12-07T00:00:00"
    )
    assert dataset.policy.aggregation is not None


def test_an_aggregation_a_download_can_hold_is_accepted() -> None:
    fields = {
        **VALID,
        "aggregate_period": "PT1H",
        "aggregate_methods": ["avg"],
        "aggregate_since": "2000-01-01T00:00:00Z",
    }
    dataset = dataset_from_fields(
        fields, dataset_id="d", created="", modified="2026-12-07T00:00:00"
    )
    assert dataset.policy.aggregation is not None


def test_a_withheld_attribute_listed_in_attributes_is_refused_under_attributes_too() -> None:
    problems = _problems(attributes=["pm10", "owner"], withheld_attributes=["owner"])
    assert {"attributes", "withheld_attributes"} <= set(problems)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "ctrl \u0001"}, "title"),
        ({"notes": "emoji \U0001f600 and \ufffe"}, "notes"),
        ({"tags": ["air", "vt\u000b"]}, "tags"),
        ({"extras": [{"key": "source", "value": "copied from a PDF \u001f"}]}, "extras"),
        ({"organization": "daegu\uffff"}, "organization"),
    ],
)
def test_a_character_xml_cannot_hold_is_refused_naming_the_field(
    fields: dict[str, Any], field: str
) -> None:
    """XML 1.0, 2.2: `Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
    [#x10000-#x10FFFF]`: a document holding another character is not well-formed, escaped or
    not. One dataset's title with U+0001 made the whole catalogue's RDF/XML unreadable to
    every harvester (ckanext-dcat's default serialization)."""
    assert "cannot be written in XML" in " ".join(_problems(**fields)[field])


def test_tabs_line_breaks_and_emoji_are_text_like_any_other() -> None:
    fields = {**VALID, "title": "Air\tquality \U0001f600", "notes": "line one\r\nline two"}
    dataset = dataset_from_fields(fields, dataset_id="d", created="", modified="")
    assert dataset.notes == "line one\r\nline two"


@pytest.mark.parametrize("tag", ["a", "a:b", 'q"uote', "air/water", "x" * 101])
def test_a_tag_ckan_would_refuse_is_refused(tag: str) -> None:
    """CKAN's `tag_name_validator`: "Tag ... must be alphanumeric characters or symbols:
    -_.", and `tag_length_validator`: at least 2 characters (MIN_TAG_LENGTH). `a:b` and
    `q"uote` were kept, and then needed Solr's escapes in `fq`, which Dalgu does not read."""
    assert "tags" in _problems(tags=["air", tag])


@pytest.mark.parametrize("tag", ["air", "대기", "PM2.5", "air quality", "open_data-2026"])
def test_a_tag_ckan_takes_is_taken(tag: str) -> None:
    fields = {**VALID, "tags": [tag]}
    assert dataset_from_fields(fields, dataset_id="d", created="", modified="").tags == (tag,)
