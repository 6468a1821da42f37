"""Filling in what the index does not know about its papers: authors, year, venue, DOI, arXiv id.

A paper with an identifier is looked up by it. A paper with only a title and an abstract (the
Daily Papers digest) is looked up by exact-title search on arXiv, then Crossref, and accepted
only on a confident match: the normalised titles are equal and, where both sides have an
abstract, the abstracts say the same thing. Keys already given out never change; a paper whose
key was made without authors and year (`DPMSolverV3`) gets the full formula key once both are
known, and keeps the old one as an alias, so whatever cited it still finds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from citewise.bib.keys import make_key
from citewise.bib.model import Reference
from citewise.bib.registries import arxiv, crossref
from citewise.bib.registries.http import RegistryUnavailable
from citewise.bib.registries.lookup import Registries
from citewise.bib.registries.matching import title_key
from citewise.bib.registries.records import Work

SAME_ABSTRACT = 70.0
"""rapidfuzz token-set ratio (0-100) from which two abstracts describe the same paper."""


@dataclass
class EnrichSummary:
    candidates: int = 0
    enriched: int = 0
    not_found: int = 0
    unverifiable: int = 0
    rekeyed: dict[str, str] = field(default_factory=dict)
    """Old key -> new formula key (the old one stays an alias)."""


def needs_enrichment(ref: Reference) -> bool:
    """A paper with a title that lacks authors, a year, a venue or an identifier. The index's
    `references_with_sources(possibly_incomplete=True)` must keep every such paper (tested)."""
    return bool(ref.title) and (not ref.authors or not ref.year or not ref.venue and not ref.arxiv or not (ref.doi or ref.arxiv))


def enrich_index(index, registries: Registries, limit: int | None = None, sources: Iterable[str] | None = None,
                 on_progress: Callable[[int, int], None] | None = None) -> EnrichSummary:
    """Look up the index's incomplete papers (only those read from `sources`, when given)."""
    wanted = set(sources) if sources is not None else None
    todo = [ref for ref, read_from in index.references_with_sources(possibly_incomplete=True, read_from=wanted)
            if needs_enrichment(ref) and (wanted is None or wanted & set(read_from))]
    todo = todo[:limit] if limit is not None else todo
    summary = EnrichSummary(candidates=len(todo))
    for done, ref in enumerate(todo, 1):
        try:
            work = find_work(ref, registries)
        except RegistryUnavailable:
            summary.unverifiable += 1
            work = None
        else:
            summary.not_found += work is None
        if work is not None:
            enriched = ref.merged_with(work.ref)
            enriched.key = _full_key(ref, enriched, index)
            stored = index.replace_reference(ref.key, enriched)
            if work.cites:
                index.set_cited(stored, work.cites)
            summary.enriched += 1
            if stored != ref.key:
                summary.rekeyed[ref.key] = stored
        if on_progress:
            on_progress(done, len(todo))
    return summary


def find_work(ref: Reference, registries: Registries) -> Work | None:
    """The registry record for `ref`: by DOI or arXiv id, else a confident exact-title match."""
    if ref.doi:
        return registries.doi(ref.doi)
    if ref.arxiv:
        return arxiv.by_id(registries.http, ref.arxiv)
    wanted = title_key(ref.title)
    failures = []
    for search in (arxiv.search, crossref.search):
        try:
            found = search(registries.http, ref.title)
        except RegistryUnavailable as error:
            failures.append(error)
            continue
        for work in found:
            if title_key(work.ref.title) == wanted and abstracts_agree(ref.abstract, work.ref.abstract):
                return work
    if len(failures) == 2:
        raise failures[0]
    return None


def abstracts_agree(mine: str, theirs: str) -> bool:
    """True when either side has no abstract, else when they share most of their words."""
    a, b = title_key(mine), title_key(theirs)
    return not a or not b or fuzz.token_set_ratio(a, b) >= SAME_ABSTRACT


def _full_key(before: Reference, after: Reference, index) -> str:
    """The key to store `after` under: the old one, unless it was made without authors and year."""
    provisional = not before.authors and not before.year and before.key.startswith(make_key(Reference(title=before.title)))
    if not provisional or not after.authors or not after.year:
        return before.key
    return make_key(after, _Taken(index, before.key))


class _Taken:
    """Keys in use in the index, except the one being replaced."""

    def __init__(self, index, own: str):
        self.index, self.own = index, own

    def __contains__(self, key: str) -> bool:
        return key != self.own and self.index.get(key) is not None
