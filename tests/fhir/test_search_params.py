"""The FHIR search parameter parser and the date ranges it compares (pure functions)."""

from __future__ import annotations

import pytest

from dalgu.errors import BadRequestData
from dalgu.fhir.dates import date_range
from dalgu.fhir.search import DateValue, RefValue, TokenValue, parse_search, split_values
from dalgu.fhir.searchparams import compartment_patient, fold, index_rows


def test_partial_dates_cover_their_whole_period() -> None:
    lo, hi = date_range("2024-02")
    assert date_range("2024-02-01")[0] == lo
    assert date_range("2024-02-29")[1] == hi


def test_date_time_zone_is_honoured() -> None:
    assert date_range("2024-03-01T10:00:00+09:00")[0] == date_range("2024-03-01T01:00:00Z")[0]


@pytest.mark.parametrize("bad", ["2024-13", "2024-02-30", "yesterday", "2024-1-1"])
def test_invalid_dates_are_refused(bad: str) -> None:
    with pytest.raises(BadRequestData):
        date_range(bad)


def test_token_forms() -> None:
    query = parse_search("Observation", [("code", "http://loinc.org|8867-4,|raw,plain,sys|")])
    assert query.clauses[0].values == (
        TokenValue("http://loinc.org", "8867-4"),
        TokenValue("", "raw"),
        TokenValue(None, "plain"),
        TokenValue("sys", None),
    )


def test_escaped_separators_are_literal() -> None:
    assert split_values(r"a\,b,c") == ["a,b", "c"]
    query = parse_search("Observation", [("code", r"x\|y")])
    assert query.clauses[0].values == (TokenValue(None, "x|y"),)


def test_date_prefixes() -> None:
    query = parse_search("Observation", [("date", "ge2024-01-01"), ("date", "lt2024-02")])
    first, second = (c.values[0] for c in query.clauses)
    assert isinstance(first, DateValue) and first.prefix == "ge"
    assert isinstance(second, DateValue) and second.prefix == "lt"


@pytest.mark.parametrize(
    ("legacy", "prefix"), [(">", "gt"), (">=", "ge"), ("<", "lt"), ("<=", "le")]
)
def test_dstu1_comparators_are_read_as_r4_prefixes(legacy: str, prefix: str) -> None:
    """fhirclient's `$gt`... send DSTU1's `>`... (HAPI FHIR reads them too; fhir report #7)."""
    query = parse_search("Observation", [("date", f"{legacy}2024-03-01")])
    expected = parse_search("Observation", [("date", f"{prefix}2024-03-01")])
    assert query.clauses[0].values == expected.clauses[0].values


def test_patient_reference_defaults_to_patient_type() -> None:
    query = parse_search("Observation", [("patient", "123"), ("subject", "Patient/9")])
    assert query.clauses[0].values == (RefValue("Patient", "123"),)
    assert query.clauses[1].values == (RefValue("Patient", "9"),)


def test_reference_to_a_type_the_parameter_does_not_allow_is_refused() -> None:
    with pytest.raises(BadRequestData):
        parse_search("Observation", [("patient", "Device/1")])


@pytest.mark.parametrize(
    "items",
    [
        [("nonsense", "1")],
        [("_count", "-1")],
        [("_count", "many")],
        [("code:fuzzy", "x")],
        [("_sort", "code")],
        [("_include", "Observation:code")],
        [("date", "gx2024")],
    ],
)
def test_bad_search_parameters_are_refused(items: list[tuple[str, str]]) -> None:
    with pytest.raises(BadRequestData):
        parse_search("Observation", items)


def test_lenient_handling_skips_unknown_parameters() -> None:
    query = parse_search("Patient", [("nonsense", "1"), ("gender", "female")], lenient=True)
    assert query.ignored == ("nonsense",) and len(query.clauses) == 1


def test_an_absolute_reference_is_this_servers_resource_under_its_base_only() -> None:
    device = {"resourceType": "Observation", "device": {"reference": "http://x/fhir/Device/d1"}}
    assert ("device", "Device", "d1") in index_rows(device, "http://x/fhir").refs
    assert ("device", "Device", "d1") not in index_rows(device, "http://y/fhir").refs
    subject = {"resourceType": "Observation", "subject": {"reference": "http://y/fhir/Patient/p"}}
    assert compartment_patient(subject, "http://x/fhir") is None
    assert compartment_patient(subject, "http://y/fhir/") == "p"


def test_strings_are_folded_for_search() -> None:
    assert fold("Ángela KIM") == "angela kim"


def test_index_rows_of_an_observation() -> None:
    rows = index_rows(
        {
            "resourceType": "Observation",
            "subject": {"reference": "Patient/p1"},
            "device": {"reference": "http://x/fhir/Device/d1/_history/2"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "effectivePeriod": {"start": "2024-01-01T00:00:00Z"},
        }
    )
    # `patient` is searched through the Patient rows of `subject` (same path): no rows of its own
    assert ("subject", "Patient", "p1") in rows.refs
    assert not [r for r in rows.refs if r[0] == "patient"]
    # an absolute URL: this server's resource under its base, else that URL (another server's)
    assert ("device", "Device", "http://x/fhir/Device/d1") in rows.refs
    assert ("code", "http://loinc.org", "8867-4") in rows.tokens
    ((name, lo, hi),) = rows.dates
    assert name == "date" and lo == date_range("2024-01-01T00:00:00Z")[0] and hi > 1e11
