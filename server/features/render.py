"""How a reference reads in an editor: the one-line detail and the Markdown card."""

from __future__ import annotations

import re

from citewise.bib.model import Reference, normalize_arxiv, normalize_doi

ABSTRACT_CHARS = 300
_BRACES = re.compile(r"[{}]")
_SPACES = re.compile(r"\s+")


def plain(text: str) -> str:
    """Field text without BibTeX braces and with whitespace collapsed."""
    return _SPACES.sub(" ", _BRACES.sub("", text)).strip()


def detail_line(ref: Reference) -> str:
    """`Family et al. Year` (or whichever of the two is known)."""
    return " ".join(part for part in (plain(ref.short_author()), ref.year) if part)


def short_cite(ref: Reference) -> str:
    """`Family Year` for action titles."""
    family = plain(ref.authors[0].family) if ref.authors else ""
    return " ".join(part for part in (family, ref.year) if part)


def authors_line(ref: Reference, limit: int = 8) -> str:
    names = [plain(f"{a.given} {a.family}" if a.given and not a.literal else a.family) for a in ref.authors]
    if len(names) > limit:
        names = names[:limit] + ["et al."]
    return ", ".join(names)


def abstract_start(ref: Reference, chars: int = ABSTRACT_CHARS) -> str:
    abstract = plain(ref.abstract)
    if len(abstract) <= chars:
        return abstract
    return abstract[:chars].rsplit(" ", 1)[0] + "…"


def links(ref: Reference) -> list[str]:
    found = []
    if ref.doi:
        doi = normalize_doi(ref.doi)
        found.append(f"[doi:{doi}](https://doi.org/{doi})")
    if ref.arxiv:
        arxiv = normalize_arxiv(ref.arxiv) or ref.arxiv
        found.append(f"[arXiv:{arxiv}](https://arxiv.org/abs/{arxiv})")
    if ref.url and not found:
        found.append(f"<{ref.url}>")
    return found


def reference_markdown(ref: Reference, with_authors: bool = True, with_links: bool = True) -> str:
    """Title, authors, venue and year, links and the start of the abstract, as Markdown."""
    parts = [f"**{plain(ref.title) or ref.key}**"]
    if with_authors and ref.authors:
        parts.append(authors_line(ref))
    where = " · ".join(p for p in (f"*{plain(ref.venue)}*" if ref.venue else "", ref.year) if p)
    if where:
        parts.append(where)
    if with_links and links(ref):
        parts.append(" · ".join(links(ref)))
    if ref.abstract:
        parts.append(abstract_start(ref))
    return "\n\n".join(parts)
