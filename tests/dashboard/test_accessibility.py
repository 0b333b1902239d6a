"""The dashboard against WCAG 2.1 AA, as far as a check without a browser can go: the page's
structure (language, headings, landmarks, table headers, labels, text alternatives, unique
ids), colour contrast from the stylesheet and the map's palette, and the words in both
languages. What it cannot check (reading order as spoken, zoom to 400 %) is in
docs/dashboard.md."""

from __future__ import annotations

import itertools
import re
import string
from importlib import resources
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dalgu.api.app import build_app
from dalgu.dashboard import citymap
from dalgu.dashboard.messages import LANGUAGES, MESSAGES, choose_language
from dalgu.settings import Settings
from tests.conftest import IN_PROCESS
from tests.dashboard.html import Node, parse
from tests.dashboard.test_dashboard import seed

LANDMARKS = {"header", "main", "footer", "nav"}


def luminance(colour: str) -> float:
    """Relative luminance of a #rrggbb colour (WCAG 2.1, 1.4.3)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_is_measured_as_wcag_defines_it() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def stylesheet() -> str:
    return resources.files("dalgu.dashboard").joinpath("static/dashboard.css").read_text()


def rules(css: str) -> list[tuple[str, dict[str, str]]]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    found = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = {}
        for part in body.split(";"):
            name, _, value = part.partition(":")
            if value.strip():
                declarations[name.strip()] = value.strip()
        found.append((selector.strip(), declarations))
    return found


def test_every_text_colour_has_4_5_to_1_contrast_with_its_background() -> None:
    pairs = [
        (selector, d["color"], d["background"])
        for selector, d in rules(stylesheet())
        if "color" in d and "background" in d
    ]
    assert len(pairs) >= 10  # body, links, banner, table heads, buttons, severities, footer
    for selector, colour, background in pairs:
        assert contrast(colour, background) >= 4.5, (selector, colour, background)


def test_links_in_running_text_are_told_apart_without_colour() -> None:
    declared = dict(rules(stylesheet()))
    # underlined (the default) and never switched off
    decorations = [d.get("text-decoration", "") for d in declared.values()]
    assert not any("none" in decoration for decoration in decorations)


def test_focus_is_visible_with_3_to_1_contrast() -> None:
    declared = dict(rules(stylesheet()))
    outline = declared[":focus-visible"]["outline"].split()[-1]
    assert contrast(outline, "#ffffff") >= 3
    banner_outline = declared[".banner :focus-visible"]["outline-color"]
    assert contrast(banner_outline, declared[".banner"]["background"]) >= 3


def test_the_maps_markers_have_3_to_1_contrast_and_differ_in_shape() -> None:
    for colour in citymap.COLOURS:
        assert contrast(colour, citymap.BACKGROUND) >= 3, colour
    # an outside test: with more than 4 types, shapes repeated and types differed by colour alone
    forms = [(s.shape, s.hollow) for s in map(citymap.style_of, range(len(citymap.FORMS)))]
    assert len(set(forms)) == len(forms) == 12  # not told by colour alone
    styles = [citymap.style_of(i) for i in range(len(citymap.FORMS) * len(citymap.COLOURS))]
    assert len(set(styles)) == len(styles)  # past 12, another colour with each form


def test_every_message_is_in_both_languages_with_the_same_placeholders() -> None:
    fields = string.Formatter()
    for key, translations in MESSAGES.items():
        assert set(translations) == set(LANGUAGES), key
        names = [{f for _, f, _, _ in fields.parse(text) if f} for text in translations.values()]
        assert all(n == names[0] for n in names), key
        assert all(text.strip() for text in translations.values()), key


@pytest.mark.parametrize(
    ("asked", "header", "expected"),
    [
        (None, None, "ko"),
        ("en", "ko", "en"),
        ("EN-gb", None, "en"),
        ("fr", "en", "en"),
        (None, "fr, en;q=0.8, ko;q=0.9", "ko"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "en;q=0, ko;q=0.1", "ko"),
        (None, "de, fr;q=bad", "ko"),
    ],
)
def test_the_language_is_chosen_as_asked(
    asked: str | None, header: str | None, expected: str
) -> None:
    assert choose_language(asked, header) == expected


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Node]:
    path: Path = tmp_path_factory.mktemp("dashboard") / "dalgu.db"
    settings = Settings.load(sqlite_path=path, mqtt_broker="off", **IN_PROCESS)
    with TestClient(build_app(settings)) as client:
        seed(client)
        # a device of the gateway, and a Wi-Fi zone with a unit: every section is on the page
        group = {"apikey": "a11y", "resource": "/iot/json", "entity_type": "Thermometer"}
        assert client.post("/iot/services", json={"services": [group]}).status_code == 201
        assert client.post("/iot/json?k=a11y&i=t1", content=b'{"t": 1}').status_code == 200
        for entity in (
            {"id": "urn:ngsi-ld:WifiPointOfInterest:z", "type": "WifiPointOfInterest"},
            {
                "id": "urn:ngsi-ld:AccessPoint:a",
                "type": "AccessPoint",
                "refPointOfInterest": {
                    "type": "Relationship",
                    "object": "urn:ngsi-ld:WifiPointOfInterest:z",
                },
            },
        ):
            assert client.post("/ngsi-ld/v1/entities", json=entity).status_code == 201
        entity = client.get("/dashboard/entity?id=urn:ngsi-ld:AccessPoint:a&lang=en")
        missing = client.get("/dashboard/entity?id=urn:x:gone", headers={"Accept": "text/html"})
        return {lang: parse(client.get(f"/dashboard?lang={lang}").text) for lang in LANGUAGES} | {
            "empty": parse(client.get("/dashboard?tenant=nobody").text),
            "entity": parse(entity.text),
            "error": parse(missing.text),
        }


@pytest.mark.parametrize("which", ["ko", "en", "empty", "entity", "error"])
def test_the_page_is_structured_for_assistive_technology(
    pages: dict[str, Node], which: str
) -> None:
    doc = pages[which]
    if which in LANGUAGES:  # every section is checked
        sections = {s.attrs["aria-labelledby"] for s in doc.iter("section")}
        assert {"devices-heading", "wifi-heading", "alerts-heading", "map-heading"} <= sections
    html = doc.first("html")
    assert html.attrs["lang"] in LANGUAGES  # 3.1.1
    assert doc.first("title").text  # 2.4.2
    # 2.4.1: the first link skips to the main content, which exists
    first_link = doc.first("a")
    assert first_link.attrs["href"] == "#main" and doc.by_id("main") is not None
    # 1.3.1: landmarks, one h1, no heading level skipped
    tags = {n.tag for n in doc.iter()}
    assert tags >= LANDMARKS
    headings = [int(n.tag[1]) for n in doc.iter() if re.fullmatch(r"h[1-6]", n.tag)]
    assert headings.count(1) == 1 and headings[0] == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(headings))
    # several navigation landmarks are told apart by their labels
    navs = list(doc.iter("nav"))
    assert len({n.attrs.get("aria-label") for n in navs}) == len(navs)
    # ids are unique; every id reference resolves
    ids = [n.attrs["id"] for n in doc.iter() if "id" in n.attrs]
    assert len(ids) == len(set(ids))
    for node in doc.iter():
        for ref in ("aria-labelledby", "aria-describedby", "for"):
            for target in node.attrs.get(ref, "").split():
                assert target in ids, (node.tag, ref, target)
    # tables: a caption and headers with their scope
    for table in doc.iter("table"):
        assert table.first("caption").text
        assert all(th.attrs.get("scope") in ("col", "row") for th in table.iter("th"))
    # 1.1.1: the map is an image with a name and a description; decorative icons are hidden
    for svg in doc.iter("svg"):
        if svg.attrs.get("role") == "img":
            # named by its title, described by its description: not the same sentence twice
            # as name and description (an outside test heard it so)
            name, description = svg.attrs["aria-labelledby"], svg.attrs["aria-describedby"]
            assert doc.by_id(name).tag == "title" and doc.by_id(name).text  # type: ignore[union-attr]
            assert doc.by_id(description).tag == "desc"  # type: ignore[union-attr]
        else:
            assert svg.attrs.get("aria-hidden") == "true"
    # 4.1.2 / 3.3.2: every form control has a label; buttons and links have text
    labelled = {n.attrs["for"] for n in doc.iter("label")}
    for control in doc.iter():
        if control.tag == "select" or (
            control.tag == "input" and control.attrs.get("type") != "hidden"
        ):
            assert control.attrs.get("id") in labelled
    assert all(a.text for a in doc.iter("a"))
    assert all(b.text for b in doc.iter("button"))
    # a name is given only to what may have one: a focusable <pre> is a named region (ARIA
    # 1.2 forbids naming the generic role, axe aria-prohibited-attr)
    for node in doc.iter():
        if "aria-labelledby" in node.attrs and node.tag in ("pre", "div", "span", "p"):
            assert node.attrs.get("role") == "region", node.tag
    # 3.1.2: the language switch names each language in itself
    for link in doc.iter("a"):
        if "hreflang" in link.attrs:
            assert link.attrs["lang"] == link.attrs["hreflang"]


def test_live_updates_can_be_paused_and_are_announced_politely(pages: dict[str, Node]) -> None:
    doc = pages["en"]
    toggle = doc.by_id("live-toggle")
    assert toggle is not None and toggle.attrs["aria-pressed"] == "false"  # 2.2.2
    status = doc.by_id("live-status")
    assert status is not None and status.attrs["role"] == "status"  # 4.1.3
    script = resources.files("dalgu.dashboard").joinpath("static/dashboard.js").read_text()
    assert "aria-pressed" in script
    assert "document.hidden" in script
    # a toggle button's name says what it does when pressed, and does not change with its
    # state (WAI-ARIA APG; an outside test heard "Resume updates, toggle button, pressed")
    assert toggle.text in ("Pause updates", "자동 갱신 멈춤")
    assert "toggle.textContent" not in script and "data-resume" not in toggle.attrs


def test_new_alerts_are_announced_by_a_region_that_is_live_from_the_start(
    pages: dict[str, Node],
) -> None:
    """4.1.3: a screen reader announces changes in a region that was live before they came
    (an outside test: `aria-live` was set on the alerts after their table was replaced, and
    then the whole table was read again, deletions too)."""
    for lang in LANGUAGES:
        doc = pages[lang]
        news = doc.by_id("alert-news")
        assert news is not None
        assert news.attrs["aria-live"] == "polite" and news.attrs["role"] == "status"
        assert not news.children  # empty until an alert comes
        assert "{count}" in news.attrs["data-many"] and news.attrs["data-one"]
        assert "aria-live" not in doc.by_id("alerts").attrs  # type: ignore[union-attr]
        # what an announcement says of an alert: its severity, category and description
        row = next(r for r in doc.by_id("alerts").iter("tr") if "data-key" in r.attrs)  # type: ignore[union-attr]
        assert len([c for c in row.iter("td") if "data-say" in c.attrs]) == 3
    assert dict(rules(stylesheet()))[".visually-hidden"]["overflow"] == "hidden"
    script = resources.files("dalgu.dashboard").joinpath("static/dashboard.js").read_text()
    assert "aria-live" not in script.split("(function")[1]  # no region made live late
    assert "!seen[key]" in script  # only alert ids not seen before are announced


@pytest.mark.parametrize("which", ["ko", "en", "entity"])
def test_wide_tables_scroll_in_their_own_box_not_the_page(
    pages: dict[str, Node], which: str
) -> None:
    # 1.4.10: at 320 CSS px a data table may scroll, inside its own container only
    declared = dict(rules(stylesheet()))
    assert declared[".scroll"]["overflow-x"] == "auto"
    assert declared[".scroll"]["max-width"] == "100%"
    tables = list(pages[which].iter("table"))
    assert tables
    boxes = [d for d in pages[which].iter("div") if d.attrs.get("class") == "scroll"]
    assert sum(1 for box in boxes for _ in box.iter("table")) == len(tables)


@pytest.mark.parametrize("which", ["ko", "en", "entity"])
def test_a_box_that_scrolls_sideways_is_reached_by_keyboard_and_named(
    pages: dict[str, Node], which: str
) -> None:
    """2.1.1 (axe `scrollable-region-focusable`, an outside test at 320 px: the entity page's
    table scrolled but held no link, so its right columns could not be reached by keyboard):
    every scroll box takes focus (then the arrow keys scroll it) and is named by its table's
    caption."""
    boxes = [d for d in pages[which].iter("div") if d.attrs.get("class") == "scroll"]
    assert boxes
    for box in boxes:
        assert box.attrs["tabindex"] == "0" and box.attrs["role"] == "region"
        caption = box.first("caption")
        assert box.attrs["aria-labelledby"] == caption.attrs["id"] and caption.text


def test_the_page_names_an_icon_that_is_served(pages: dict[str, Node]) -> None:
    # without one, a browser asks for /favicon.ico and logs its 404 on every load
    icons = [n for n in pages["en"].iter("link") if n.attrs.get("rel") == "icon"]
    assert len(icons) == 1
    path = icons[0].attrs["href"]
    assert path.startswith("/dashboard/static/")
    icon = resources.files("dalgu.dashboard").joinpath(path.removeprefix("/dashboard/"))
    assert icon.read_text().startswith("<svg")


def test_a_browser_asking_for_favicon_ico_gets_the_icon(client: TestClient) -> None:
    """The API docs page and JSON answers name no icon: browsers ask for /favicon.ico."""
    answer = client.get("/favicon.ico")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert answer.text.startswith("<svg")


def test_a_long_value_cannot_squeeze_korean_text_to_a_syllable_a_line(
    pages: dict[str, Node],
) -> None:
    """An outside test: an alert whose source was a 200-character URL widened the table to
    2,309 px, and the Korean description beside it shrank to one syllable per line."""
    declared = dict(rules(stylesheet()))
    assert declared[":lang(ko)"]["word-break"] == "keep-all"  # lines break between words
    assert declared[".long"]["overflow-wrap"] == "anywhere"  # a URL or id breaks anywhere
    assert declared[".prose"]["min-width"].endswith("em")
    for which in LANGUAGES:
        alerts = pages[which].by_id("alerts")
        assert alerts is not None
        row = next(r for r in alerts.iter("tr") if "data-key" in r.attrs)
        cells = list(row.iter("td"))
        assert cells[2].attrs["class"] == "prose" and cells[3].attrs["class"] == "long"
    entity_rows = list(pages["entity"].first("tbody").iter("tr"))
    assert entity_rows  # an entity's values break anywhere too
    assert all(list(r.iter("td"))[1].attrs["class"] == "long" for r in entity_rows)
