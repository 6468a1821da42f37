"""Is a reference real, current and complete? One `Check` per reference, one status each.

Statuses, most serious first:
- `not-found`: no registry knows the DOI, arXiv id or title (the mark of a fabricated reference);
- `mismatch`: the DOI or arXiv id exists but names another work (`detail` names it; `fix` is the
  entry whose title matches, when a registry has one);
- `retracted`: the registry marks the work retracted or withdrawn;
- `superseded`: a preprint whose published version is known (`fix`: the published entry, same key);
- `incomplete`: fields the entry type requires are missing (`fix`: filled from the registry);
- `verified`: found, and title, first author and year agree;
- `unverifiable`: offline, the registries failed, or the entry has nothing to look up.
Duplicates across a bibliography are found by `find_duplicates`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from citewise.bib.model import Reference
from citewise.bib.registries.http import RegistryUnavailable
from citewise.bib.registries.identifiers import Identifier, normalize_isbn
from citewise.bib.registries.lookup import Registries
from citewise.bib.registries.matching import first_authors_agree, title_key, titles_agree, years_agree
from citewise.bib.registries.records import Work

PROBLEMS = ("not-found", "mismatch", "retracted")
"""Statuses that make `citewise verify` exit with 1 and the editor show a warning."""
REQUIRED = {
    "article": ("author", "title", "journal", "year"),
    "book": ("author", "title", "publisher", "year"),
    "inproceedings": ("author", "title", "booktitle", "year"),
    "incollection": ("author", "title", "booktitle", "year"),
    "phdthesis": ("author", "title", "institution", "year"),
    "mastersthesis": ("author", "title", "institution", "year"),
    "techreport": ("author", "title", "institution", "year"),
}
"""Fields BibTeX's standard styles require, by entry type (school/institution are one field here)."""
_MODEL_FIELD = {"author": "authors", "institution": "institution"}


@dataclass
class Check:
    status: str
    detail: str = ""
    fix: Reference | None = None
    fix_title: str = ""


def check_reference(ref: Reference, registries: Registries, known: Callable[[Reference], str] | None = None) -> Check:
    """The status of one reference; `known(ref)` may vouch for it from the user's own library
    (returns where from, e.g. "your Zotero library") when the registries cannot answer."""
    try:
        return _check(ref, registries)
    except RegistryUnavailable as error:
        where = known(ref) if known else ""
        if where:
            return Check("verified", f"in {where} (registries not asked: {error})")
        return Check("unverifiable", str(error))


def _check(ref: Reference, registries: Registries) -> Check:
    if ref.doi:
        return _by_identifier(ref, registries, f"DOI {ref.doi}", registries.doi(ref.doi))
    if ref.arxiv:
        return _by_identifier(ref, registries, f"arXiv {ref.arxiv}", registries.identifier(Identifier("arxiv", ref.arxiv)))
    isbn = normalize_isbn(ref.extra_fields.get("isbn", "").split(",")[0])
    if isbn and ref.entry_type in ("book", "inbook", "incollection"):
        return _by_identifier(ref, registries, f"ISBN {isbn}", registries.identifier(Identifier("isbn", isbn)))
    if ref.extra_fields.get("pmid"):
        pmid = ref.extra_fields["pmid"].strip()
        return _by_identifier(ref, registries, f"PMID {pmid}", registries.identifier(Identifier("pmid", pmid)))
    if not title_key(ref.title):
        return Check("unverifiable", "no DOI, arXiv id, ISBN, PMID or title to look up")
    author = ref.authors[0].family if ref.authors else ""
    candidates = registries.title(ref.title, author)
    agreeing = [work for work in candidates if first_authors_agree(ref.authors, work.ref.authors) is not False]
    if not agreeing:
        if candidates:
            other = candidates[0].ref
            return Check("mismatch", f"a work with this title exists, by {_describe(other)}", _fix_from(ref, other), "Use the registry's entry")
        return Check("not-found", "no registry has a work with this title")
    return _judge(ref, agreeing[0], registries, "title")


def _by_identifier(ref: Reference, registries: Registries, label: str, work: Work | None) -> Check:
    if work is None:
        rescue = _title_match(ref, registries)
        if rescue is not None:
            return Check("not-found", f"no registry knows {label}; the title is {_describe(rescue.ref)}", _fix_from(ref, rescue.ref), "Use the registered identifier")
        return Check("not-found", f"no registry knows {label}")
    if not titles_agree(ref.title, work.ref.title) and title_key(ref.title):
        rescue = _title_match(ref, registries)
        fix = _fix_from(ref, rescue.ref) if rescue is not None else None
        return Check("mismatch", f"{label} is {_describe(work.ref)}", fix, "Use the entry with this title" if fix else "")
    return _judge(ref, work, registries, label)


def _judge(ref: Reference, work: Work, registries: Registries, label: str) -> Check:
    theirs = work.ref
    if first_authors_agree(ref.authors, theirs.authors) is False:
        return Check("mismatch", f"{label}: the first author is {theirs.authors[0].family}, not {ref.authors[0].family}", _fix_from(ref, theirs), "Use the registry's authors")
    if years_agree(ref.year or ref.date, theirs.year) is False:
        return Check("mismatch", f"{label}: the year is {theirs.year}, not {ref.year or ref.date[:4]}", _fix_from(ref, theirs), "Use the registry's year")
    retracted_by = work.retracted_by or _openalex_retraction(work, registries)
    if retracted_by:
        return Check("retracted", f"{_describe(theirs)} is retracted ({retracted_by})")
    if work.published_doi or work.journal_ref:
        published = registries.doi(work.published_doi) if work.published_doi else None
        where = f"DOI {work.published_doi}" if work.published_doi else work.journal_ref
        fix = _fix_from(ref, published.ref, keep_ids=False) if published is not None else None
        return Check("superseded", f"published as {where}", fix, "Cite the published version" if fix else "")
    missing = missing_fields(ref)
    if missing:
        filled = _fix_from(ref, theirs, fill_only=True)
        still = missing_fields(filled)
        return Check("incomplete", f"missing {', '.join(missing)}", filled if len(still) < len(missing) else None, "Fill in from the registry")
    return Check("verified", f"{work.source}: {_describe(theirs)}")


def _openalex_retraction(work: Work, registries: Registries) -> str:
    """OpenAlex's `is_retracted`, asked only when Crossref's record has no signal of its own."""
    if work.source != "crossref" or not work.ref.doi:
        return ""
    try:
        other = registries.openalex(work.ref.doi)
    except RegistryUnavailable:
        return ""
    return other.retracted_by if other is not None else ""


def _title_match(ref: Reference, registries: Registries) -> Work | None:
    if not title_key(ref.title):
        return None
    try:
        found = registries.title(ref.title, ref.authors[0].family if ref.authors else "")
    except RegistryUnavailable:
        return None
    agreeing = [work for work in found if first_authors_agree(ref.authors, work.ref.authors) is not False]
    return agreeing[0] if agreeing else None


def missing_fields(ref: Reference) -> list[str]:
    needed = REQUIRED.get(ref.entry_type.lower(), ())
    missing = []
    for name in needed:
        value = getattr(ref, _MODEL_FIELD.get(name, name), "")
        if name == "author" and not value:
            value = ref.editors if ref.entry_type == "book" else value
        if not value:
            missing.append(name)
    return missing


def _fix_from(ref: Reference, theirs: Reference, fill_only: bool = False, keep_ids: bool = True) -> Reference:
    """The registry's record under the entry's key; `fill_only` keeps every field the entry has."""
    if fill_only:
        return ref.merged_with(replace(theirs, abstract=""))
    fixed = replace(theirs, key=ref.key, origin=ref.origin, keywords=ref.keywords, extra_fields={**theirs.extra_fields})
    if keep_ids and not fixed.arxiv:
        fixed.arxiv = ref.arxiv if ref.arxiv and not fixed.doi else ""
    return fixed


def _describe(ref: Reference) -> str:
    who = ref.short_author() or "unknown authors"
    return f"{who} {ref.year or 'n.d.'}, \"{ref.title}\""


def find_duplicates(refs: list[Reference]) -> list[tuple[Reference, Reference, str]]:
    """(kept, duplicate, why) for each reference that repeats an earlier one under another key:
    the same DOI or arXiv id (and no disagreeing titles: then one of them is wrong, which the
    lookup reports), or the same title with the same first author and year."""
    found = []
    seen_doi: dict[str, Reference] = {}
    seen_arxiv: dict[str, Reference] = {}
    seen_title: dict[str, list[Reference]] = {}
    for ref in refs:
        earlier, why = None, ""
        if ref.doi and ref.doi in seen_doi and _same_title_or_none(ref, seen_doi[ref.doi]):
            earlier, why = seen_doi[ref.doi], f"the same DOI {ref.doi}"
        elif ref.arxiv and ref.arxiv in seen_arxiv and _same_title_or_none(ref, seen_arxiv[ref.arxiv]):
            earlier, why = seen_arxiv[ref.arxiv], f"the same arXiv id {ref.arxiv}"
        else:
            for other in seen_title.get(title_key(ref.title)[:40], []):
                if first_authors_agree(ref.authors, other.authors) and years_agree(ref.year, other.year) is not False and titles_agree(ref.title, other.title):
                    earlier, why = other, "the same title, first author and year"
                    break
        if earlier is not None and earlier.key != ref.key:
            found.append((earlier, ref, why))
            continue
        if ref.doi:
            seen_doi.setdefault(ref.doi, ref)
        if ref.arxiv:
            seen_arxiv.setdefault(ref.arxiv, ref)
        if title_key(ref.title):
            seen_title.setdefault(title_key(ref.title)[:40], []).append(ref)
    return found


def _same_title_or_none(ref: Reference, other: Reference) -> bool:
    return not title_key(ref.title) or not title_key(other.title) or titles_agree(ref.title, other.title)
