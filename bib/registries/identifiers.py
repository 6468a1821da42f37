"""What a piece of text identifies: a DOI, an arXiv id, an ISBN, a PubMed id, or else a title.

`parse_identifier` accepts the forms people paste: `10.1000/xyz`, `doi:10.1000/xyz`,
`https://doi.org/10.1000/xyz`; `2310.13268`, `2310.13268v2`, `arXiv:hep-th/9901001`,
`https://arxiv.org/abs/2310.13268`; ISBN-10 and ISBN-13 with hyphens or spaces (the check digit
must be right, so a mistyped ISBN is not taken for one); `PMID: 12345` or a PubMed URL.
Anything else is a free title, optionally followed by ` by AUTHOR` or `; AUTHOR`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from citewise.bib.model import normalize_arxiv, normalize_doi

Kind = Literal["doi", "arxiv", "isbn", "pmid", "title"]

_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)
_DOI_IN_TEXT = re.compile(r"\b10\.\d{4,9}/[^\s\"<>{},]+")
_ARXIV = re.compile(
    r"^(?:https?://(?:export\.)?arxiv\.org/(?:abs|pdf)/|arxiv:\s*)?"
    r"(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?(?:\.pdf)?$",
    re.IGNORECASE,
)
_ARXIV_IN_TEXT = re.compile(r"(?:arxiv:\s*|arxiv\.org/(?:abs|pdf)/)(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(v\d+)?", re.IGNORECASE)
_PMID = re.compile(r"^(?:pmid:?\s*|https?://(?:www\.ncbi\.nlm\.nih\.gov/pubmed|pubmed\.ncbi\.nlm\.nih\.gov)/)(\d{1,9})/?$", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\d{1,8}$")
_ISBN = re.compile(r"^(?:isbn(?:-1[03])?:?\s*)?([0-9][0-9\- ]{8,16}[0-9Xx])$", re.IGNORECASE)
_AUTHOR_SPLIT = re.compile(r"\s+(?:by)\s+|\s*;\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Identifier:
    """`kind` and the normalised `value`; for titles, `author` is the optional author hint."""

    kind: Kind
    value: str
    author: str = ""

    def label(self) -> str:
        names = {"doi": "DOI", "arxiv": "arXiv", "isbn": "ISBN", "pmid": "PMID", "title": "title"}
        return f"{names[self.kind]} {self.value}"


def parse_identifier(text: str) -> Identifier:
    """The identifier `text` is, or a title when it is none of them."""
    text = text.strip()
    match = _DOI.match(text)
    if match:
        return Identifier("doi", normalize_doi(match.group(1).rstrip(".,;")))
    match = _ARXIV.match(text)
    if match:
        return Identifier("arxiv", normalize_arxiv(match.group(1)))
    match = _PMID.match(text) or (_BARE_NUMBER.match(text) and re.match(r"(\d+)", text))
    if match:
        return Identifier("pmid", match.group(1))
    isbn = normalize_isbn(text)
    if isbn:
        return Identifier("isbn", isbn)
    parts = _AUTHOR_SPLIT.split(text, maxsplit=1)
    return Identifier("title", parts[0].strip(), parts[1].strip() if len(parts) > 1 else "")


def normalize_isbn(text: str) -> str:
    """The ISBN-13 for an ISBN-10 or ISBN-13 with a valid check digit, else ""."""
    match = _ISBN.match(text.strip())
    if not match:
        return ""
    digits = re.sub(r"[\- ]", "", match.group(1)).upper()
    if len(digits) == 10 and _isbn10_valid(digits):
        body = "978" + digits[:9]
        return body + _isbn13_check(body)
    if len(digits) == 13 and digits.isdigit() and digits[:3] in ("978", "979") and _isbn13_check(digits[:12]) == digits[12]:
        return digits
    return ""


def _isbn10_valid(digits: str) -> bool:
    if not digits[:9].isdigit() or not (digits[9].isdigit() or digits[9] == "X"):
        return False
    total = sum((10 - i) * int(d) for i, d in enumerate(digits[:9])) + (10 if digits[9] == "X" else int(digits[9]))
    return total % 11 == 0


def _isbn13_check(first12: str) -> str:
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def find_identifier(text: str) -> Identifier | None:
    """The first DOI or arXiv id written anywhere in `text` (a URL, a cite key, a sentence)."""
    match = _DOI_IN_TEXT.search(text)
    if match:
        return Identifier("doi", normalize_doi(match.group(0).rstrip(".,;)")))
    match = _ARXIV_IN_TEXT.search(text)
    if match:
        return Identifier("arxiv", normalize_arxiv(match.group(1)))
    return None
