"""HTTP preconditions on versions (RFC 9110 13.1): `If-Match` and `If-None-Match` with the
version ETags this server gives (`W/"3"`), as headers or as a Bundle entry's
`request.ifMatch` / `request.ifNoneMatch`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from dalgu.errors import BadRequestData, PreconditionFailed
from dalgu.fhir.model import StoredResource

#: `If-Match`: a version, `*` (any current version: RFC 9110 13.1.1) or none
IfMatch: TypeAlias = int | Literal["*"] | None


def parse_if_match(value: str | None) -> IfMatch:
    """`*` or the version of a version ETag (`parse_etag`)."""
    if value is not None and value.strip() == "*":
        return "*"
    return parse_etag(value)


def bind_if_match(if_match: IfMatch, current: StoredResource | None, name: str) -> int | None:
    """The version a write must replace: `If-Match: *` is the one current now (so that a
    concurrent change or delete still fails the write), and 412 when there is none (RFC
    9110 13.1.1: "*" is true when the server has a current representation)."""
    if if_match != "*":
        return if_match
    if current is None or current.deleted:
        raise PreconditionFailed(f"{name} does not exist: If-Match: * changes only what exists")
    return current.version


def parse_etag(value: str | None) -> int | None:
    """The version in an ETag (`W/"3"`, `"3"`, `3`)."""
    if value is None:
        return None
    text = value.strip()
    text = text[2:] if text.startswith("W/") else text
    text = text.strip('"')
    if not text.isdigit():
        raise BadRequestData(f'{value!r} is not a version ETag such as W/"3"')
    return int(text)


@dataclass(frozen=True, slots=True)
class NoneMatch:
    """`If-None-Match`: `*` (any current version) or a list of version ETags. The condition
    is false, and the method not performed (412), when the resource has a current version
    that it names (RFC 9110 13.1.2; ETags compared weakly)."""

    any_version: bool = False
    versions: frozenset[int] = frozenset()

    def names(self, current: StoredResource) -> bool:
        """Whether the condition is false for `current`: a read of it answers 304 Not
        Modified (R4 conditional read; `*` names any version there is)."""
        return not current.deleted and (self.any_version or current.version in self.versions)

    def check(self, current: StoredResource | None) -> None:
        """412 when `current` (the resource's current version, None if there is none)
        makes the condition false; a deleted resource has no current version."""
        if current is None or current.deleted:
            return
        if self.any_version:
            raise PreconditionFailed(
                f"{current.reference} exists (version {current.version}): If-None-Match: *"
                " creates only"
            )
        if current.version in self.versions:
            raise PreconditionFailed(
                f"{current.reference} is at version {current.version}, which If-None-Match names"
            )


def read_none_match(value: str | None) -> NoneMatch | None:
    """`If-None-Match` of a read: as `parse_none_match`, but one that names no version of
    this server (another server's entity tag a cache kept) matches nothing, as RFC 9110
    has it, rather than failing the read."""
    try:
        return parse_none_match(value)
    except BadRequestData:
        return None


def parse_none_match(value: str | None) -> NoneMatch | None:
    """`*` or a comma-separated list of version ETags; None when no header was sent."""
    if value is None:
        return None
    if value.strip() == "*":
        return NoneMatch(any_version=True)
    versions = frozenset(
        version
        for part in value.split(",")
        if part.strip()
        for version in [parse_etag(part)]
        if version is not None
    )
    if not versions:
        raise BadRequestData('If-None-Match is * or version ETags such as W/"3"')
    return NoneMatch(versions=versions)
