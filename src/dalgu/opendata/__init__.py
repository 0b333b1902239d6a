"""Open data: datasets that publish de-identified slices of the broker's data (CKAN, DCAT)."""

from dalgu.opendata.exporters import EXPORTERS, Exporter
from dalgu.opendata.model import LICENSES, Aggregation, Dataset, License, Policy, Publication
from dalgu.opendata.search import SearchQuery, SearchResult
from dalgu.opendata.service import OpenDataService

__all__ = [
    "EXPORTERS",
    "LICENSES",
    "Aggregation",
    "Dataset",
    "Exporter",
    "License",
    "OpenDataService",
    "Policy",
    "Publication",
    "SearchQuery",
    "SearchResult",
]
