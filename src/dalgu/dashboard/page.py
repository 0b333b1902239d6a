"""The dashboard as HTML: Jinja2 templates (autoescaped) filled from an overview's findings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Final
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from dalgu import __version__
from dalgu.dashboard import citymap
from dalgu.dashboard.devices import Devices
from dalgu.dashboard.messages import LANGUAGES, NATIVE_NAMES, Language, text
from dalgu.dashboard.overview import KST, LISTED, SEVERITIES, Alerts, Places, TypeCount
from dalgu.wifi.zones import Zone

#: seconds between two refreshes of the alerts in the browser
REFRESH: Final = 15

_templates = Environment(
    loader=PackageLoader("dalgu.dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class View:
    """What one request asked to see: the reader's language, the tenant, the type on the map."""

    lang: Language
    tenant: str
    shown_type: str | None  # an IRI

    def link(self, **changes: str) -> str:
        """This dashboard's URL with some of its parameters changed ("" drops one)."""
        params = {"lang": self.lang, "tenant": self.tenant, "type": self.shown_type or ""}
        params.update(changes)
        return "/dashboard?" + urlencode({k: v for k, v in params.items() if v})

    @property
    def coverage_url(self) -> str:
        return "/wifi/coverage?" + urlencode({"tenant": self.tenant} if self.tenant else {})

    @property
    def alerts_url(self) -> str:
        params = {"lang": self.lang, "tenant": self.tenant}
        return "/dashboard/alerts?" + urlencode({k: v for k, v in params.items() if v})


def render_page(
    view: View,
    types: list[TypeCount],
    places: Places,
    alerts: Alerts,
    zones: Sequence[Zone] = (),
    devices: Devices | None = None,
    now: datetime | None = None,
) -> str:
    moment = now or datetime.now(UTC)
    shown_name = next((t.name for t in types if t.iri == view.shown_type), None)
    return _templates.get_template("page.html").render(
        t=partial(text, lang=view.lang),
        lang=view.lang,
        languages=[(code, NATIVE_NAMES[code]) for code in LANGUAGES],
        link=view.link,
        tenant=view.tenant,
        shown_type=view.shown_type,
        shown_name=shown_name or (view.shown_type.rsplit("/", 1)[-1] if view.shown_type else None),
        now_iso=moment.isoformat().replace("+00:00", "Z"),
        now_local=moment.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S KST"),
        types=types,
        places=places,
        listed=places.places[:LISTED],
        city=citymap.draw(places.places),
        background=citymap.BACKGROUND,
        radius=citymap.RADIUS,
        alerts=alerts,
        alerts_url=view.alerts_url,
        zones=zones,
        devices=devices,
        coverage_url=view.coverage_url,
        severities=SEVERITIES,
        refresh=REFRESH,
        version=__version__,
    )


def render_alerts(view: View, alerts: Alerts) -> str:
    """The alerts section alone, as the page refreshes it."""
    return _templates.get_template("alerts.html").render(
        t=partial(text, lang=view.lang), alerts=alerts, severities=SEVERITIES
    )
