"""The reference model: one plain record per paper, independent of any parser library.

Every reader produces `Reference` objects, the index stores them, the BibTeX writer
and the Zotero sync consume them. Nothing here knows about files or protocols.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from citewise.bib.text import ascii_fold


@dataclass(frozen=True)
class Author:
    """A person (family + given) or an organisation (family only, `literal` set)."""

    family: str
    given: str = ""
    literal: bool = False

    def display(self) -> str:
        """`Family, Given` as BibTeX and the CLI's JSON write it."""
        if self.literal or not self.given:
            return self.family
        return f"{self.family}, {self.given}"


@dataclass(frozen=True)
class Origin:
    """Where a reference was read from: a file and line, or a Zotero library item."""

    source: str
    line: int | None = None


@dataclass
class Reference:
    """One paper. Empty strings and empty lists mean "unknown"."""

    key: str = ""
    entry_type: str = "misc"
    title: str = ""
    authors: list[Author] = field(default_factory=list)
    editors: list[Author] = field(default_factory=list)
    year: str = ""
    date: str = ""
    journal: str = ""
    booktitle: str = ""
    volume: str = ""
    number: str = ""
    pages: str = ""
    publisher: str = ""
    institution: str = ""
    doi: str = ""
    arxiv: str = ""
    url: str = ""
    abstract: str = ""
    keywords: list[str] = field(default_factory=list)
    extra_fields: dict[str, str] = field(default_factory=dict)
    origin: Origin | None = None
    zotero_key: str = ""

    @property
    def venue(self) -> str:
        return self.journal or self.booktitle or self.publisher or self.institution

    def short_author(self) -> str:
        """`Family`, `Family and Other`, or `Family et al.`"""
        if not self.authors:
            return ""
        first = self.authors[0].family
        if len(self.authors) == 1:
            return first
        if len(self.authors) == 2:
            return f"{first} and {self.authors[1].family}"
        return f"{first} et al."

    def richness(self) -> int:
        """How many fields are known: the richer record wins when two are merged."""
        return sum(1 for f in fields(self) if f.name not in ("key", "origin") and getattr(self, f.name))

    def merged_with(self, other: Reference) -> Reference:
        """Keep this record's key; fill every field it lacks from `other`.

        For text fields the longer value wins (a full abstract beats a truncated one).
        """
        updates: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("key", "origin", "zotero_key"):
                continue
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name == "extra_fields":
                updates[f.name] = {**theirs, **mine}
            elif f.name == "entry_type":
                if mine == "misc" and theirs != "misc":
                    updates[f.name] = theirs
            elif isinstance(mine, str):
                if len(theirs) > len(mine):
                    updates[f.name] = theirs
            elif not mine and theirs:
                updates[f.name] = theirs
        merged = replace(self, **updates)
        if not merged.zotero_key:
            merged.zotero_key = other.zotero_key
        return merged


def reference_to_dict(ref: Reference) -> dict[str, Any]:
    """A JSON-ready dict of every field; `reference_from_dict` reverses it."""
    return asdict(ref)


def reference_from_dict(data: dict[str, Any]) -> Reference:
    values = dict(data)
    values["authors"] = [Author(**a) for a in values.get("authors", [])]
    values["editors"] = [Author(**a) for a in values.get("editors", [])]
    if values.get("origin"):
        values["origin"] = Origin(**values["origin"])
    known = {f.name for f in fields(Reference)}
    return Reference(**{k: v for k, v in values.items() if k in known})


_ARXIV_NEW = re.compile(r"(\d{4}\.\d{4,5})(v\d+)?")
_ARXIV_OLD = re.compile(r"([a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?")


def normalize_doi(doi: str) -> str:
    """Lowercase DOI without resolver prefix: `10.1000/xyz`."""
    doi = doi.strip()
    doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", doi, flags=re.IGNORECASE)
    return doi.lower()


def normalize_arxiv(arxiv: str) -> str:
    """Bare arXiv id without version or prefix: `2310.13268`, `hep-th/9901001`."""
    arxiv = arxiv.strip()
    arxiv = re.sub(r"^(https?://arxiv\.org/(abs|pdf)/|arxiv:\s*)", "", arxiv, flags=re.IGNORECASE)
    for pattern in (_ARXIV_NEW, _ARXIV_OLD):
        match = pattern.search(arxiv)
        if match:
            return match.group(1)
    return ""


def normalize_title(title: str) -> str:
    """Lowercase ASCII words of a title, braces and punctuation dropped, for matching."""
    ascii_title = ascii_fold(title)
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    return " ".join(words)
