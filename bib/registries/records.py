"""What a registry says about one work: the reference, and the signals verify needs.

Every registry module turns its own answer into a `Work`: a `Reference` (no key) plus the
registry's word on retraction and on a published version of a preprint.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from citewise.bib.model import Author, Reference

_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


@dataclass
class Work:
    ref: Reference
    source: str
    """The registry that described it: crossref, datacite, arxiv, openalex, openlibrary, pubmed."""
    retracted_by: str = ""
    """Non-empty when the registry marks the work retracted or withdrawn: the notice's DOI or a label."""
    published_doi: str = ""
    """For a preprint: the DOI of its published version, when the registry links one."""
    journal_ref: str = ""
    """For an arXiv preprint: the journal reference its authors added after publication."""
    cites: list[str] = field(default_factory=list)
    """The works its reference list names by DOI or arXiv id (`link_identifier` form), where the registry gives one."""


def clean_text(text: str) -> str:
    """Registry text as plain Unicode: markup tags and entities out, whitespace collapsed."""
    return _SPACES.sub(" ", html.unescape(_TAG.sub(" ", text or ""))).strip()


def person(family: str, given: str = "") -> Author:
    return Author(family=clean_text(family), given=clean_text(given))


def organisation(name: str) -> Author:
    return Author(family=clean_text(name), literal=True)


def year_of(date_parts) -> str:
    """`2020` from Crossref's `{"date-parts": [[2020, 5, 1]]}`; "" when absent."""
    try:
        year = date_parts["date-parts"][0][0]
    except (KeyError, IndexError, TypeError):
        return ""
    return str(year) if year else ""


def date_of(date_parts) -> str:
    """`2020-05-01` / `2020-05` / `2020` from Crossref date parts."""
    try:
        parts = [int(part) for part in date_parts["date-parts"][0] if part]
    except (KeyError, IndexError, TypeError, ValueError):
        return ""
    return "-".join([f"{parts[0]:04d}", *(f"{part:02d}" for part in parts[1:3])]) if parts else ""
