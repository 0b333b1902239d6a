"""The web dashboard: a city's data at a glance, in Korean and English (WCAG 2.1 AA).

`overview` reads what it shows through the entity service, `citymap` draws located entities
as SVG, `messages` holds its words, `page` renders its HTML; `dalgu.api.dashboard` serves it.
"""
