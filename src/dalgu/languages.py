"""A reader's languages: the tags of an `Accept-Language` header by weight (RFC 9110 12.5.4)."""

from __future__ import annotations


def ranked_languages(accept_language: str | None) -> list[str]:
    """The header's language tags, most wanted first (by weight, then by place), without `*`
    and those of weight 0."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        tag = tag.strip()
        if tag and tag != "*" and weight > 0:
            ranked.append((-weight, position, tag))
    return [tag for _, _, tag in sorted(ranked)]
