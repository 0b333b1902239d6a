"""Compiled JSON-LD term maps: the part of JSON-LD processing NGSI-LD needs on its hot path.

A `TermMap` is built once per distinct @context (see `resolver.py`) and cached. It expands
attribute and type names to IRIs and compacts IRIs back, following the IRI expansion (JSON-LD
1.1 API §5.2.2) and IRI compaction (§6.2.2) rules for terms, compact IRIs (prefixes) and
`@vocab`. Values are not JSON-LD processed: NGSI-LD attribute values travel as they are.
`pyld` is the oracle these rules are tested against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dalgu.errors import InvalidLdContext

_GEN_DELIMS = frozenset(":/?#[]@")
#: an absolute IRI as far as a term's mapping must be one: a scheme, and no character RFC 3987
#: excludes (spaces, controls, `<>"{}|\^` and the backquote)
_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]*")


@dataclass(frozen=True, slots=True)
class TermDefinition:
    iri: str
    prefix: bool  # usable as the prefix of a compact IRI
    type_mapping: str | None = None  # "@id", "@vocab", "@json", a datatype IRI…
    container: str | None = None


def _is_absolute_iri(value: str) -> bool:
    scheme, sep, _ = value.partition(":")
    return bool(sep) and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum()


class TermMap:
    """Expansion and compaction of names for one active context."""

    __slots__ = (
        "_compact_cache",
        "_expand_cache",
        "_prefixes",
        "_reverse",
        "attribute_iris",
        "dropped",
        "terms",
        "vocab",
    )

    def __init__(
        self,
        terms: Mapping[str, TermDefinition],
        vocab: str | None,
        dropped: frozenset[str] = frozenset(),
    ) -> None:
        self.terms = dict(terms)
        self.vocab = vocab
        #: terms a user context maps to null: a JSON-LD processor drops what they name
        self.dropped = dropped
        self._expand_cache: dict[str, str] = {}
        self._compact_cache: dict[str, str] = {}
        #: attribute names already checked and expanded with this map (`broker.parse`)
        self.attribute_iris: dict[str, str] = {}
        reverse: dict[str, str] = {}
        for term in sorted(self.terms, key=lambda t: (len(t), t)):
            definition = self.terms[term]
            if definition.iri.startswith("@"):
                continue
            reverse.setdefault(definition.iri, term)
        self._reverse = reverse
        self._prefixes = sorted(
            ((t, d.iri) for t, d in self.terms.items() if d.prefix and ":" not in t),
            key=lambda item: (len(item[0]), item[0]),
        )

    def expand(self, name: str) -> str:
        """Expand a term, compact IRI or relative name to an absolute IRI (vocab-relative)."""
        hit = self._expand_cache.get(name)
        if hit is not None:
            return hit
        iri = self._expand(name)
        if len(self._expand_cache) < 65536:
            self._expand_cache[name] = iri
        return iri

    def _expand(self, name: str) -> str:
        definition = self.terms.get(name)
        if definition is not None:
            return definition.iri
        if name in self.dropped:
            raise InvalidLdContext(
                f"the @context maps {name!r} to null: a JSON-LD processor drops what it names, "
                "and Dalgu does not drop data silently"
            )
        prefix, sep, suffix = name.partition(":")
        if sep:
            if prefix == "_" or suffix.startswith("//"):
                return name
            pdef = self.terms.get(prefix)
            if pdef is not None and pdef.prefix:
                return pdef.iri + suffix
            if _is_absolute_iri(name):
                return name
        if self.vocab is not None:
            return self.vocab + name
        return name

    def compact(self, iri: str) -> str:
        """Compact an IRI for output (vocab-relative): term, then @vocab suffix, then CURIE."""
        hit = self._compact_cache.get(iri)
        if hit is not None:
            return hit
        name = self._compact(iri)
        if len(self._compact_cache) < 65536:
            self._compact_cache[iri] = name
        return name

    def _compact(self, iri: str) -> str:
        term = self._reverse.get(iri)
        if term is not None:
            return term
        if self.vocab and iri.startswith(self.vocab) and len(iri) > len(self.vocab):
            suffix = iri[len(self.vocab) :]
            if suffix not in self.terms:
                return suffix
        best: str | None = None
        for prefix, prefix_iri in self._prefixes:
            if iri.startswith(prefix_iri) and len(iri) > len(prefix_iri):
                candidate = f"{prefix}:{iri[len(prefix_iri) :]}"
                clash = self.terms.get(candidate)
                if clash is not None and clash.iri != iri:
                    continue
                if best is None or (len(candidate), candidate) < (len(best), best):
                    best = candidate
        return best if best is not None else iri

    def is_vocab_typed(self, term_iri: str) -> bool:
        """True when the term for `term_iri` coerces its values with `@type: @vocab`."""
        term = self._reverse.get(term_iri)
        return term is not None and self.terms[term].type_mapping == "@vocab"


class ContextBuilder:
    """Accumulates term definitions from a sequence of local context objects."""

    def __init__(self) -> None:
        self.raw: dict[str, Any] = {}
        self._vocab_raw: str | None = None
        # the protected terms of the user contexts added so far, by their definitions
        self._protected: dict[str, dict[str, Any]] = {}

    def add(self, context: Mapping[str, Any], *, core: bool = False) -> None:
        """Adds a local context's definitions over the earlier ones. A user context (not
        `core`) may neither redefine a protected term otherwise (JSON-LD 1.1, 4.1.11:
        "protected term redefinition") nor hold a scoped context (NGSI-LD clause 5.5.7: "shall
        not contain JSON-LD Scoped Contexts", a BadRequestData); the core context has one."""
        protecting = context.get("@protected") is True
        for key, value in context.items():
            if key == "@vocab":
                if value is not None and not isinstance(value, str):
                    raise InvalidLdContext("@vocab must be a string or null")
                self._vocab_raw = value
            elif key == "@version":
                if value != 1.1:  # JSON-LD 1.1: "invalid @version value"
                    raise InvalidLdContext(f"@version must be 1.1, not {value!r}")
            elif key in ("@protected", "@base", "@language", "@direction", "@propagate"):
                continue
            elif key == "@import":  # the resolver merges what it names before this
                raise InvalidLdContext("@import must name a context document by its URL")
            elif key.startswith("@"):
                raise InvalidLdContext(f"unknown keyword {key!r} in @context")
            elif value is None or isinstance(value, (str, dict)):
                if not core:
                    self._check_user_term(key, value, protecting)
                self.raw[key] = value
            else:
                raise InvalidLdContext(f"invalid term definition for {key!r}")

    def _check_user_term(
        self, term: str, value: str | dict[str, Any] | None, protecting: bool
    ) -> None:
        if isinstance(value, dict) and "@context" in value:
            raise InvalidLdContext(
                f"the term {term!r} has a scoped @context, which a user @context shall not "
                "have (NGSI-LD clause 5.5.7)"
            )
        definition = _comparable(value)
        earlier = self._protected.get(term)
        if earlier is not None and definition != earlier:
            raise InvalidLdContext(
                f"protected term redefinition: {term!r} is protected by an earlier @context "
                "and cannot be defined otherwise (JSON-LD 1.1, 4.1.11)"
            )
        protected = value.get("@protected", protecting) if isinstance(value, dict) else protecting
        if protected is True and value is not None:
            self._protected[term] = definition

    def reset(self) -> None:
        """A null in a @context array: the definitions before it are dropped (JSON-LD 1.1,
        4.1.8), unless one is protected ("invalid context nullification")."""
        if self._protected:
            raise InvalidLdContext(
                "invalid context nullification: a null in @context would drop protected terms"
            )
        self.raw.clear()
        self._vocab_raw = None

    def build(self) -> TermMap:
        raw = self.raw
        resolved: dict[str, TermDefinition] = {}
        vocab = self._resolve_vocab(raw)
        for term in raw:
            definition = _define(term, raw, resolved, vocab, set())
            if definition is not None:
                resolved[term] = definition
        dropped = frozenset(term for term, value in raw.items() if value is None)
        return TermMap(resolved, vocab, dropped)

    def _resolve_vocab(self, raw: Mapping[str, Any]) -> str | None:
        value = self._vocab_raw
        if value is None:
            return None
        prefix, sep, suffix = value.partition(":")
        if sep and prefix in raw and isinstance(raw[prefix], str) and not suffix.startswith("//"):
            return str(raw[prefix]) + suffix
        return value


def _comparable(value: str | dict[str, Any] | None) -> dict[str, Any]:
    """A term definition as redefinitions are compared: the same but for `@protected`."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "@protected"}
    return {"@id": value}


def _define(
    term: str,
    raw: Mapping[str, Any],
    done: dict[str, TermDefinition],
    vocab: str | None,
    active: set[str],
) -> TermDefinition | None:
    if term in done:
        return done[term]
    value = raw.get(term)
    if value is None:
        return None
    if term in active:
        raise InvalidLdContext(f"cyclic IRI mapping for term {term!r}")
    active.add(term)
    type_mapping: str | None = None
    container: str | None = None
    simple = isinstance(value, str)
    if isinstance(value, dict):
        if "@reverse" in value:
            raise InvalidLdContext(
                f"the term {term!r} is a reverse property (@reverse), which NGSI-LD attributes "
                "cannot be"
            )
        iri_value = value.get("@id", term if ":" in term else None)
        if iri_value is None:
            iri_value = (vocab + term) if vocab else None
        if iri_value is None:
            raise InvalidLdContext(f"term {term!r} has no IRI mapping")
        if not isinstance(iri_value, str):
            raise InvalidLdContext(f"@id of term {term!r} must be a string")
        type_value = value.get("@type")
        if isinstance(type_value, str):
            type_mapping = type_value
        container_value = value.get("@container")
        if isinstance(container_value, str):
            container = container_value
        explicit_prefix = value.get("@prefix")
    else:
        iri_value = value
        explicit_prefix = None
    iri = _expand_value(iri_value, raw, done, vocab, active)
    if not (iri.startswith(("@", "_:")) or _IRI.fullmatch(iri)):
        raise InvalidLdContext(
            f"invalid IRI mapping: the term {term!r} maps to {iri!r}, which is no IRI "
            "(JSON-LD 1.1, Create Term Definition)"
        )
    _check_iri_form(term, iri, raw, done, vocab, active)
    active.discard(term)
    if explicit_prefix is not None:
        prefix = bool(explicit_prefix)
    else:
        prefix = simple and bool(iri) and iri[-1] in _GEN_DELIMS
    definition = TermDefinition(iri, prefix, type_mapping, container)
    done[term] = definition
    return definition


def _check_iri_form(
    term: str,
    iri: str,
    raw: Mapping[str, Any],
    done: dict[str, TermDefinition],
    vocab: str | None,
    active: set[str],
) -> None:
    """A term that looks like an IRI (a compact IRI `prefix:suffix`, or an absolute IRI) must
    map to the IRI it expands to by itself (JSON-LD 1.1 API, Create Term Definition, step
    14.2.3: "invalid IRI mapping"). Smart Data Models' IssueTracking context maps
    `open311:type` elsewhere: accepted, two attributes came back under one name."""
    prefix, sep, suffix = term.partition(":")
    if not sep or not prefix or not suffix or prefix == "_":
        return
    expected = _expand_value(term, raw, done, vocab, active)  # by its prefix, or as it is
    if expected != iri:
        raise InvalidLdContext(
            f"invalid IRI mapping: the term {term!r} has the form of an IRI, {expected!r}, "
            f"but maps to {iri!r}"
        )


def _expand_value(
    value: str,
    raw: Mapping[str, Any],
    done: dict[str, TermDefinition],
    vocab: str | None,
    active: set[str],
) -> str:
    if value.startswith("@"):
        return value
    prefix, sep, suffix = value.partition(":")
    if sep:
        if prefix == "_" or suffix.startswith("//"):
            return value
        if prefix in raw:
            pdef = _define(prefix, raw, done, vocab, active)
            if pdef is not None:
                return pdef.iri + suffix
        return value
    if value in raw:
        tdef = _define(value, raw, done, vocab, active)
        if tdef is not None:
            return tdef.iri
    return (vocab + value) if vocab else value
