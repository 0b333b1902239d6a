"""The dashboard as HTML: Jinja2 templates (autoescaped) filled from an overview's findings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from dalgu import __version__
from dalgu.dashboard import citymap
from dalgu.dashboard.devices import Devices
from dalgu.dashboard.entity import EntityDetail
from dalgu.dashboard.messages import LANGUAGES, NATIVE_NAMES, Language, text, written_in
from dalgu.dashboard.overview import (
    KST,
    LISTED,
    MAP_LIMIT,
    SEVERITIES,
    Alerts,
    Places,
    TypeCount,
)
from dalgu.wifi import vocabulary as wifi
from dalgu.wifi.zones import Zone

#: seconds between two refreshes of the alerts in the browser
REFRESH: Final = 15
#: Wi-Fi zones listed at most (the darkest first)
WIFI_LISTED: Final = 100
WIFI_ORDER: Final = {
    status: rank
    for rank, status in enumerate((wifi.FAILURE, wifi.PARTIAL, wifi.NO_SERVICE, wifi.WORKING))
}

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

    def entity_link(self, entity_id: str, **changes: str) -> str:
        """The dashboard's view of an entity of this tenant (the API cannot be linked: a
        browser does not send `NGSILD-Tenant`)."""
        params = {"id": entity_id, "tenant": self.tenant, "lang": self.lang}
        params.update(changes)
        return "/dashboard/entity?" + urlencode({k: v for k, v in params.items() if v})

    @property
    def coverage_url(self) -> str:
        return "/wifi/coverage?" + urlencode({"tenant": self.tenant} if self.tenant else {})

    @property
    def alerts_url(self) -> str:
        params = {"lang": self.lang, "tenant": self.tenant}
        return "/dashboard/alerts?" + urlencode({k: v for k, v in params.items() if v})

    def part_url(self, part: str) -> str:
        """Where the page's script reads one section again (`PARTS`)."""
        params = {"lang": self.lang, "tenant": self.tenant, "type": self.shown_type or ""}
        return f"/dashboard/part/{part}?" + urlencode({k: v for k, v in params.items() if v})


def lang_attr(lang: Language) -> Callable[[str], Markup]:
    """For text from the data: ` lang="en"` on an element holding `text` when it is written in
    the other language than the page's (WCAG 3.1.2), else nothing."""

    def attr(text: str) -> Markup:
        found = written_in(text)
        return Markup(' lang="{}"').format(found) if found and found != lang else Markup("")

    return attr


def _common(view: View, now: datetime | None) -> dict[str, Any]:
    """What every page of the dashboard fills in (its banner, language switch, footer)."""
    moment = now or datetime.now(UTC)
    return {
        "t": partial(text, lang=view.lang),
        "lang": view.lang,
        "lang_attr": lang_attr(view.lang),
        "languages": [(code, NATIVE_NAMES[code]) for code in LANGUAGES],
        "tenant": view.tenant,
        "now_iso": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "now_local": moment.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S KST"),
        "entity_link": view.entity_link,
        "version": __version__,
    }


def outages_first(zones: Sequence[Zone]) -> list[Zone]:
    """The zones as the dashboard lists them: the darkest first, then by name."""
    return sorted(zones, key=lambda z: (WIFI_ORDER.get(z.status, len(WIFI_ORDER)), z.name))


#: the sections the page's script reads again (alerts too, at `/dashboard/alerts`)
PARTS: Final = ("overview", "wifi", "devices", "map")


@dataclass(frozen=True, slots=True)
class Sections:
    """What the page's sections show; a part's refresh fills only what it shows."""

    types: list[TypeCount]
    places: Places | None = None
    zones: Sequence[Zone] = ()
    devices: Devices | None = None


def _sections(view: View, sections: Sections) -> dict[str, Any]:
    """The templates' names for what the sections show (each section's template takes those
    it uses)."""
    types = sections.types
    shown_name = next((t.name for t in types if t.iri == view.shown_type), None)
    filled: dict[str, Any] = {
        "link": view.link,
        "part_url": view.part_url,
        "shown_type": view.shown_type,
        "shown_name": shown_name
        or (view.shown_type.rsplit("/", 1)[-1] if view.shown_type else None),
        "types": types,
        "zones": sections.zones,
        "zones_listed": outages_first(sections.zones)[:WIFI_LISTED],
        "devices": sections.devices,
        "coverage_url": view.coverage_url,
        "map_limit": MAP_LIMIT,
        "background": citymap.BACKGROUND,
        "radius": citymap.RADIUS,
        "outline": citymap.OUTLINE,
    }
    if sections.places is not None:
        filled["places"] = sections.places
        filled["listed"] = sections.places.places[:LISTED]
        filled["city"] = citymap.draw(sections.places.places)
    return filled


def render_page(
    view: View,
    types: list[TypeCount],
    places: Places,
    alerts: Alerts,
    zones: Sequence[Zone] = (),
    devices: Devices | None = None,
    now: datetime | None = None,
) -> str:
    return _templates.get_template("page.html").render(
        **_common(view, now),
        **_sections(view, Sections(types, places, zones, devices)),
        switch=lambda code: view.link(lang=code),
        alerts=alerts,
        alerts_url=view.alerts_url,
        severities=SEVERITIES,
        refresh=REFRESH,
    )


def render_part(view: View, part: str, sections: Sections) -> str:
    """One section of the page alone (one of `PARTS`), as the page's script refreshes it."""
    if part not in PARTS:
        raise ValueError(f"no dashboard part {part!r}")
    return _templates.get_template(f"{part}.html").render(
        **_common(view, None), **_sections(view, sections)
    )


def render_alerts(view: View, alerts: Alerts) -> str:
    """The alerts section alone, as the page refreshes it."""
    return _templates.get_template("alerts.html").render(
        t=partial(text, lang=view.lang),
        lang_attr=lang_attr(view.lang),
        alerts=alerts,
        severities=SEVERITIES,
        entity_link=view.entity_link,
    )


def render_error(
    view: View,
    status: int,
    detail: str,
    switch: Callable[[str], str],
    now: datetime | None = None,
) -> str:
    """The page a reader gets for a dashboard address that answers an error (an entity that
    is gone, a bad parameter), in their language, with the way back."""
    kind = f"error_{status}" if status in (400, 404) else "error_other"
    return _templates.get_template("error.html").render(
        **_common(view, now),
        switch=switch,
        heading=kind,
        explanation=f"{kind}_text",
        detail=detail,
        status=status,
        back=view.link(type=""),
    )


def render_entity(
    view: View, entity: EntityDetail, base_url: str, now: datetime | None = None
) -> str:
    """One entity's page (`dalgu.dashboard.entity`), with the API call that reads it."""
    header = f"NGSILD-Tenant: {view.tenant}" if view.tenant else ""
    command = "curl -s" + (f" -H '{header}'" if header else "")
    command += f" '{base_url}/ngsi-ld/v1/entities/{quote(entity.id, safe=':')}'"
    return _templates.get_template("entity.html").render(
        **_common(view, now),
        switch=lambda code: view.entity_link(entity.id, lang=code),
        entity=entity,
        back=view.link(),
        api_command=command,
    )
