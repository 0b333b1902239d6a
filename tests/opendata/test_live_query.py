"""The live NGSI-LD query of a dataset in expanded names: a URL that works without the
dataset's context."""

from __future__ import annotations

from dalgu.opendata.live_query import expanded_query
from dalgu.opendata.model import Publication

SDM = "https://smartdatamodels.org/dataModel.Parking/"


def expand(name: str) -> str:
    return name if ":" in name else SDM + name


def test_names_are_expanded_and_quoted_values_kept() -> None:
    pub = Publication(
        "ParkingSpot", ("status", "category"), 'status=="status";category=="a|b"', "location"
    )
    assert dict(expanded_query(pub, expand)) == {
        "type": SDM + "ParkingSpot",
        "attrs": f"{SDM}status,{SDM}category,{SDM}location",
        "q": f'{SDM}status=="status";{SDM}category=="a|b"',
    }


def test_a_type_selection_is_expanded_name_by_name() -> None:
    pub = Publication("(ParkingSpot,OffStreetParking)", ("status",))
    assert dict(expanded_query(pub, expand))["type"] == (
        f"({SDM}ParkingSpot,{SDM}OffStreetParking)"
    )
