"""The open-data portal's HTTP edge under `/opendata`: CKAN's Action API v3, downloads and the
DCAT catalogue."""

from dalgu.api.opendata.routes import routes

__all__ = ["routes"]
